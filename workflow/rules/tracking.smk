# Training frame stores -> detections -> OC-SORT tracks -> mask caches (only training needs them).


if DATASET == "cameras":

    # One job per camera and stage (detection, tracking, masks) over the camera's training pieces, each reading the
    # camera's manifest of the stage before; per-piece results in results/<stage>/cameras/<camera>/train/, kept and
    # reused while their fingerprint (the piece's result before, the stage's settings and code) is unchanged.
    rule camera_detect:
        input:
            stage_manifest("frames", "{camera}"),
        output:
            stage_manifest("detections", "{camera}"),
        log:
            f"{LOGS}/detect/{{camera}}.log",
        benchmark:
            f"{BENCH}/detect/{{camera}}.tsv"
        conda:
            "../../environment.yml"
        threads: 2 if GPU_DETECTOR else PIECE_THREADS
        resources:
            gpu=1 if GPU_DETECTOR else 0,
            mem_mb=lambda wildcards, threads: (6000 if GPU_DETECTOR else 1000) * threads,
            runtime=lambda wildcards, threads: (120 if GPU_DETECTOR else 20)
            + len(CAMERA_ROWS[wildcards.camera]) // threads,
        params:
            settings=settings("dataset", "detect"),
            folder=lambda wildcards: f"{RESULTS}/detections/{DATASET}/{wildcards.camera}",
            stamp=stamp(settings("dataset", "detect"), code_fingerprint("detect")),
            code=code_fingerprint("detect"),
        shell:
            ddl(
                "detect --settings {params.settings:q} --input-manifest {input:q} --splits train"
                " --out-dir {params.folder:q} --manifest {output:q} --stamp {params.stamp} --threads {threads}"
            )

    rule camera_track:
        input:
            stage_manifest("detections", "{camera}"),
        output:
            stage_manifest("tracks", "{camera}"),
        log:
            f"{LOGS}/track/{{camera}}.log",
        benchmark:
            f"{BENCH}/track/{{camera}}.tsv"
        conda:
            "../../environment.yml"
        threads: PIECE_THREADS
        resources:
            mem_mb=lambda wildcards, threads: 1000 * threads,
            runtime=lambda wildcards, threads: 20 + len(CAMERA_ROWS[wildcards.camera]) // threads,
        params:
            settings=settings("track"),
            folder=lambda wildcards: f"{RESULTS}/tracks/{DATASET}/{wildcards.camera}",
            stamp=stamp(settings("track"), code_fingerprint("track")),
            code=code_fingerprint("track"),
        shell:
            ddl(
                "track --settings {params.settings:q} --input-manifest {input:q} --splits train"
                " --out-dir {params.folder:q} --manifest {output:q} --stamp {params.stamp} --threads {threads}"
            )

    rule camera_masks:
        input:
            stage_manifest("tracks", "{camera}"),
        output:
            stage_manifest("masks", "{camera}"),
        log:
            f"{LOGS}/masks/{{camera}}.log",
        benchmark:
            f"{BENCH}/masks/{{camera}}.tsv"
        conda:
            "../../environment.yml"
        threads: PIECE_THREADS
        resources:
            mem_mb=lambda wildcards, threads: 1000 * threads,
            runtime=lambda wildcards, threads: 10 + len(CAMERA_ROWS[wildcards.camera]) // threads,
        params:
            settings=settings("masks", "model.frames"),
            folder=lambda wildcards: f"{RESULTS}/masks/{DATASET}/{wildcards.camera}",
            stamp=stamp(settings("masks", "model.frames"), code_fingerprint("masks")),
            code=code_fingerprint("masks"),
        shell:
            ddl(
                "masks --settings {params.settings:q} --input-manifest {input:q} --splits train"
                " --out-dir {params.folder:q} --manifest {output:q} --stamp {params.stamp} --threads {threads}"
            )

else:

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
        detections=piece_inputs("detections", "train"),
        tracks=piece_inputs("tracks", "train"),
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
        detections=piece_files("detections", "train"),
        tracks=piece_files("tracks", "train"),
        code=code_fingerprint("track-summary"),
    shell:
        ddl(
            "track-summary --settings {params.settings:q} --detections {params.detections:q} --tracks {params.tracks:q} --out {output:q}"
        )
