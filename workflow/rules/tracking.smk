# Training frame stores -> detections -> OC-SORT tracks -> mask caches (only training needs them).


rule detect:
    input:
        frames=f"{RESULTS}/frames/{DATASET}/{{split}}/{{video}}.h5",
        raw=raw_input,
    output:
        f"{RESULTS}/detections/{DATASET}/{{split}}/{{video}}.h5",
    log:
        f"{LOGS}/detect/{{split}}/{{video}}.log",
    benchmark:
        f"{BENCH}/detect/{{split}}/{{video}}.tsv"
    group:
        piece_group
    conda:
        "../../environment.yml"
    threads: 2 if GPU_DETECTOR else 1
    resources:
        gpu=1 if GPU_DETECTOR else 0,
        mem_mb=6000 if GPU_DETECTOR else 1000,
        runtime=120 if GPU_DETECTOR else 20,
    params:
        settings=settings("dataset", "detect"),
        code=code_fingerprint("detect"),
    shell:
        ddl("detect --settings {params.settings:q} --frames {input.frames:q} --out {output:q}")


rule track:
    input:
        f"{RESULTS}/detections/{DATASET}/{{split}}/{{video}}.h5",
    output:
        f"{RESULTS}/tracks/{DATASET}/{{split}}/{{video}}.h5",
    log:
        f"{LOGS}/track/{{split}}/{{video}}.log",
    benchmark:
        f"{BENCH}/track/{{split}}/{{video}}.tsv"
    group:
        piece_group
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=20,
    params:
        settings=settings("track"),
        code=code_fingerprint("track"),
    shell:
        ddl("track --settings {params.settings:q} --detections {input:q} --out {output:q}")


rule masks:
    input:
        f"{RESULTS}/tracks/{DATASET}/{{split}}/{{video}}.h5",
    output:
        f"{RESULTS}/masks/{DATASET}/{{split}}/{{video}}.h5",
    log:
        f"{LOGS}/masks/{{split}}/{{video}}.log",
    benchmark:
        f"{BENCH}/masks/{{split}}/{{video}}.tsv"
    group:
        piece_group
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=settings("masks", "model.frames"),
        code=code_fingerprint("masks"),
    shell:
        ddl("masks --settings {params.settings:q} --tracks {input:q} --out {output:q}")


rule track_summary:
    input:
        detections=expand(f"{RESULTS}/detections/{DATASET}/train/{{video}}.h5", video=videos_of("train")),
        tracks=expand(f"{RESULTS}/tracks/{DATASET}/train/{{video}}.h5", video=videos_of("train")),
    output:
        report(f"{RESULTS}/tracks/{DATASET}/summary.csv", caption="../report/track_summary.rst", category="Tracking"),
    log:
        f"{LOGS}/track_summary.log",
    benchmark:
        f"{BENCH}/track_summary.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=settings("masks", "model.frames"),
        code=code_fingerprint("track-summary"),
    shell:
        ddl(
            "track-summary --settings {params.settings:q} --detections {input.detections:q} --tracks {input.tracks:q} --out {output:q}"
        )
