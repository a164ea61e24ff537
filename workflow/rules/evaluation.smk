# Trained models -> per-frame scores of the test videos -> AUCs -> tables and figures.

# the scene of the qualitative figure (from training footage): the first scored one, else the first trained
FIGURE_SCENE = (SCENES or TRAIN_SCENES)[0]
SCORE_FILES = expand(f"{RESULTS}/scores/{DATASET}/{{scene}}/{{run}}.h5", scene=SCENES, run=RUNS)


rule score:
    input:
        model=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.pt",
        graphs=model_graphs,
        frames=lambda wildcards: piece_inputs("frames", "test", wildcards.scene),
        roi=lambda wildcards: roi_files(wildcards.scene),
    output:
        scores=f"{RESULTS}/scores/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.h5",
        # region detections of each frame, read by aggregate beside the scores file (RBDC, TBDC)
        regions=f"{RESULTS}/scores/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.regions.h5",
    log:
        f"{LOGS}/score/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.log",
    benchmark:
        f"{BENCH}/score/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        settings=settings("score"),
        roi=roi_option,
        frames=lambda wildcards: frame_stores("test", wildcards.scene),
        code=code_fingerprint("score"),
    shell:
        ddl(
            "score --settings {params.settings:q} --model {input.model:q} {params.roi} --frames {params.frames:q} --out {output.scores:q}"
        )


rule aggregate:
    input:
        labels=f"{RESULTS}/labels/{DATASET}.h5",
        scores=SCORE_FILES,
        logs=expand(f"{RESULTS}/models/{DATASET}/{{scene}}/{{run}}.csv", scene=SCENES, run=RUNS),
    output:
        auc=report(f"{RESULTS}/tables/auc-{DATASET}.md", caption="../report/auc_table.rst", category="Tables"),
        auc_csv=f"{RESULTS}/tables/auc-{DATASET}.csv",
        ablation=report(
            f"{RESULTS}/tables/ablation-{DATASET}.md", caption="../report/ablation_table.rst", category="Tables"
        ),
        ablation_csv=f"{RESULTS}/tables/ablation-{DATASET}.csv",
        seeds=report(f"{RESULTS}/tables/seeds-{DATASET}.md", caption="../report/seeds_table.rst", category="Tables"),
        verdict=report(
            f"{RESULTS}/tables/verdict-{DATASET}.md", caption="../report/verdict_table.rst", category="Tables"
        ),
        metrics=f"{RESULTS}/metrics/{DATASET}.json",
        figures=report(
            directory(f"{RESULTS}/figures/{DATASET}/curves"),
            patterns=["{name}.png"],
            caption="../report/score_curves.rst",
            category="Figures",
        ),
    log:
        f"{LOGS}/aggregate.log",
    benchmark:
        f"{BENCH}/aggregate.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        settings=settings(*sorted(config)),  # the whole config: recorded with the tables
        tables_dir=lambda wildcards, output: str(Path(output.auc).parent),
        unlabelled=unlabelled_option(),  # trained scenes without labelled test videos: rows / a line in the tables
        code=code_fingerprint("aggregate"),
    shell:
        ddl(
            "aggregate --settings {params.settings:q} --labels {input.labels:q} --scores {input.scores:q}"
            " --train-logs {input.logs:q} --tables-dir {params.tables_dir:q} --metrics-out {output.metrics:q}"
            " --figures-dir {output.figures:q} {params.unlabelled}"
        )


rule summary:
    input:
        # this run's metrics and those of the earlier runs that metrics.summary_datasets names (never found by listing)
        expand(f"{RESULTS}/metrics/{{dataset}}.json", dataset=SUMMARY_DATASETS),
    output:
        auc=report(f"{RESULTS}/tables/auc.md", caption="../report/auc_table.rst", category="Tables"),
        auc_csv=f"{RESULTS}/tables/auc.csv",
    log:
        f"{LOGS}/summary.log",
    conda:
        "../../environment.yml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        settings=settings("metrics"),
        tables_dir=lambda wildcards, output: str(Path(output.auc).parent),
        code=code_fingerprint("summary"),
    shell:
        ddl("summary --settings {params.settings:q} --metrics {input:q} --tables-dir {params.tables_dir:q}")


rule qualitative_figure:
    input:
        model=f"{RESULTS}/models/{DATASET}/{FIGURE_SCENE}/{RUNS[0]}.pt",
        frames=piece_inputs("frames", "train", FIGURE_SCENE)[0],
        masks=piece_inputs("masks", "train", FIGURE_SCENE)[0],
    output:
        report(f"{RESULTS}/figures/{DATASET}/qualitative.png", caption="../report/qualitative.rst", category="Figures"),
    log:
        f"{LOGS}/qualitative_figure.log",
    benchmark:
        f"{BENCH}/qualitative_figure.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=settings("train", seed=SEEDS[0]),
        frames=lambda wildcards: frame_stores("train", FIGURE_SCENE)[0],
        masks=lambda wildcards: piece_files("masks", "train", FIGURE_SCENE)[0],
        code=code_fingerprint("figures"),
    shell:
        ddl(
            "figures qualitative --settings {params.settings:q} --model {input.model:q} --frames {params.frames:q} --masks {params.masks:q} --out {output:q}"
        )


rule job_benchmarks:
    input:
        # the alarm rules' benchmarks are in the table too (workflow/rules/alarms.smk); without labelled
        # test videos (cameras), the calibrations are the last alarm jobs
        tables=[rules.aggregate.output.auc] if SCENES else [],
        figure=rules.qualitative_figure.output,
        events=lambda wildcards: ALARM_OUTPUTS,
    output:
        table=report(f"{RESULTS}/tables/jobs-{DATASET}.md", caption="../report/job_benchmarks.rst", category="Tables"),
        csv=f"{RESULTS}/tables/jobs-{DATASET}.csv",
    log:
        f"{LOGS}/job_benchmarks.log",
    conda:
        "../../environment.yml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        folder=BENCH,
        code=code_fingerprint("job-benchmarks"),
    shell:
        ddl("job-benchmarks --dir {params.folder:q} --out {output.table:q}")
