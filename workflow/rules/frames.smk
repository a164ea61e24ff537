# Raw data -> frame stores and ground-truth labels.


if DATASET == "synthetic":

    rule synthesize:
        output:
            f"{config['dataset']['root']}/manifest.json",
        params:
            settings=settings("synthetic"),
            code=code_fingerprint("data/synthetic.py"),
        log:
            f"{LOGS}/synthesize.log",
        benchmark:
            f"{BENCH}/synthesize.tsv"
        resources:
            mem_mb=2000,
            runtime=30,
        shell:
            ddl("synthesize --settings {params.settings:q} --out {config[dataset][root]:q}")

    def raw_input(wildcards):
        return rules.synthesize.output

else:

    def raw_input(wildcards):
        """The raw source of one video (a file or a frame folder): re-extract when it changes."""
        return [str(v.source) for v in VIDEOS[wildcards.split] if v.name == wildcards.video]


rule extract_frames:
    input:
        raw_input,
    output:
        f"{RESULTS}/frames/{DATASET}/{{split}}/{{video}}.h5",
    params:
        settings=settings("dataset", "frames"),
        code=code_fingerprint("data"),
    log:
        f"{LOGS}/frames/{{split}}/{{video}}.log",
    benchmark:
        f"{BENCH}/frames/{{split}}/{{video}}.tsv"
    resources:
        mem_mb=1000,
        runtime=30,
    shell:
        ddl("frames --settings {params.settings:q} --split {wildcards.split} --video {wildcards.video:q} --out {output:q}")


rule labels:
    input:
        frame_stores("test"),
    output:
        f"{RESULTS}/labels/{DATASET}.h5",
    params:
        settings=settings("dataset", "frames"),
        frames_dir=f"{RESULTS}/frames/{DATASET}/test",
        code=code_fingerprint("data"),
    log:
        f"{LOGS}/labels.log",
    benchmark:
        f"{BENCH}/labels.tsv"
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        ddl("labels --settings {params.settings:q} --frames-dir {params.frames_dir:q} --out {output:q}")
