# Raw data -> frame stores and ground-truth labels.


if DATASET == "synthetic":

    rule synthesize:
        output:
            f"{config['dataset']['root']}/manifest.json",
        log:
            f"{LOGS}/synthesize.log",
        benchmark:
            f"{BENCH}/synthesize.tsv"
        conda:
            "../../environment.yml"
        resources:
            mem_mb=2000,
            runtime=30,
        params:
            settings=settings("synthetic"),
            root=lambda wildcards, output: str(Path(output[0]).parent),
            code=code_fingerprint("synthesize"),
        shell:
            ddl("synthesize --settings {params.settings:q} --out {params.root:q}")


if DATASET == "cameras":

    # One job per camera: the frame stores of all its pieces (every split), each read from its own footage, in
    # results/frames/cameras/<camera>/<split>/<video>.h5; the job's declared output is the small manifest listing them
    # (Snakemake deletes a job's outputs before running it: the stores of unchanged pieces are kept and reused).
    rule camera_frames:
        input:
            raw=camera_sources,
            pieces=ancient(PIECES),  # its time does not re-run the job: the camera's rows (a param) do
        output:
            stage_manifest("frames", "{camera}"),
        log:
            f"{LOGS}/frames/{{camera}}.log",
        benchmark:
            f"{BENCH}/frames/{{camera}}.tsv"
        conda:
            "../../environment.yml"
        threads: PIECE_THREADS
        resources:
            mem_mb=lambda wildcards, threads: 1000 * threads,
            runtime=lambda wildcards, threads: 30 + len(CAMERA_ROWS[wildcards.camera]) // threads,
        params:
            settings=settings("frames"),
            rows=camera_rows,
            folder=lambda wildcards: f"{RESULTS}/frames/{DATASET}/{wildcards.camera}",
            stamp=stamp(settings("frames"), code_fingerprint("frames", reads_dataset=True)),
            code=code_fingerprint("frames", reads_dataset=True),
        shell:
            ddl(
                "frames --settings {params.settings:q} --camera {wildcards.camera:q} --pieces {input.pieces:q}"
                " --out-dir {params.folder:q} --manifest {output:q} --stamp {params.stamp} --threads {threads}"
            )

else:

    rule extract_frames:
        input:
            raw_input,
        output:
            f"{RESULTS}/frames/{DATASET}/{{split}}/{{video}}.h5",
        log:
            f"{LOGS}/frames/{{split}}/{{video}}.log",
        benchmark:
            f"{BENCH}/frames/{{split}}/{{video}}.tsv"
        conda:
            "../../environment.yml"
        resources:
            mem_mb=1000,
            runtime=30,
        params:
            settings=settings("dataset", "frames"),
            code=code_fingerprint("frames", reads_dataset=True),
        shell:
            ddl(
                "frames --settings {params.settings:q} --split {wildcards.split} --video {wildcards.video:q} --out {output:q}"
            )


rule labels:
    input:
        piece_inputs("frames", "test"),
    output:
        f"{RESULTS}/labels/{DATASET}.h5",
    log:
        f"{LOGS}/labels.log",
    benchmark:
        f"{BENCH}/labels.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=settings("dataset", "frames"),
        frames_dir=sorted({str(Path(store).parent) for store in frame_stores("test")}),  # one per camera (cameras)
        counts=f"--footage-counts {shlex.quote(DATA.footage_counts)}" if DATA.footage_counts else "",
        code=code_fingerprint("labels", reads_dataset=True),
    shell:
        ddl("labels --settings {params.settings:q} --frames-dir {params.frames_dir:q} {params.counts} --out {output:q}")
