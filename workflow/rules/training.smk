# One training job per (scene, model, seed): frame stores + mask caches of the scene's training videos.


rule train:
    input:
        unpack(training_inputs),
    output:
        model=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.pt",
        log_csv=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.csv",
    log:
        f"{LOGS}/train/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.log",
    benchmark:
        f"{BENCH}/train/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: config["train"]["threads"] or 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=720,
    params:
        settings=lambda wildcards: settings("model", "train", "masks", seed=wildcards.seed),
        frames=lambda wildcards: frame_stores("train", wildcards.scene),
        masks=lambda wildcards: piece_files("masks", "train", wildcards.scene),
        code=code_fingerprint("train"),
    shell:
        ddl(
            "train --settings {params.settings:q} --scene {wildcards.scene:q} --arch {wildcards.arch}"
            " --variant {wildcards.variant} --threads {threads} --frames {params.frames:q} --masks {params.masks:q}"
            " --out {output.model:q}"
        )
