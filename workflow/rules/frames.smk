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


rule extract_frames:
    input:
        raw=raw_input,
        pieces=pieces_input,
    output:
        f"{RESULTS}/frames/{DATASET}/{{split}}/{{video}}.h5",
    log:
        f"{LOGS}/frames/{{split}}/{{video}}.log",
    benchmark:
        f"{BENCH}/frames/{{split}}/{{video}}.tsv"
    group:
        piece_group
    conda:
        "../../environment.yml"
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        # a camera piece's job reads its row (piece), never the camera root: the cameras section matters through it
        settings=settings("frames") if DATASET == "cameras" else settings("dataset", "frames"),
        piece=piece_row,
        pieces=pieces_option,
        code=code_fingerprint("frames", reads_dataset=True),
    shell:
        ddl(
            "frames --settings {params.settings:q} --split {wildcards.split} --video {wildcards.video:q} {params.pieces} --out {output:q}"
        )


rule labels:
    input:
        frame_stores("test"),
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
        frames_dir=lambda wildcards, input: str(Path(input[0]).parent),
        counts=f"--footage-counts {shlex.quote(DATA.footage_counts)}" if DATA.footage_counts else "",
        code=code_fingerprint("labels", reads_dataset=True),
    shell:
        ddl("labels --settings {params.settings:q} --frames-dir {params.frames_dir:q} {params.counts} --out {output:q}")
