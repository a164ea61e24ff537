# One training job per (scene, model): frame stores + mask caches of the scene's training videos.


rule train:
    conda:
        "../../environment.yml"
    input:
        unpack(training_inputs),
    output:
        model=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}.pt",
        log_csv=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}.csv",
    params:
        settings=settings("model", "train", "masks"),
        code=code_fingerprint("model", "pseudo.py", "losses.py", "train.py", "train_data.py", "masks.py", "devices.py"),
    log:
        f"{LOGS}/train/{{scene}}/{{arch}}-{{variant}}.log",
    benchmark:
        f"{BENCH}/train/{{scene}}/{{arch}}-{{variant}}.tsv"
    threads: config["train"]["threads"] or 2
    resources:
        gpu=1,
        mem_mb=8000,
        runtime=720,
    shell:
        ddl(
            "train --settings {params.settings:q} --scene {wildcards.scene:q} --arch {wildcards.arch}"
            " --variant {wildcards.variant} --threads {threads} --frames {input.frames:q} --masks {input.masks:q}"
            " --out {output.model:q}"
        )
