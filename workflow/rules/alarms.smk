# Trained models -> calibration on the scene's normal training videos (a sidecar beside the model)
# -> live (causal) scores and events of the test videos -> event table and curves.

LIVE_FILES = expand(f"{RESULTS}/alarms/{DATASET}/{{scene}}/{{run}}.h5", scene=SCENES, run=RUNS)
# what `snakemake` builds for alarms: every model's calibration and the event table
ALARM_OUTPUTS = [f"{RESULTS}/tables/events-{DATASET}.md"] + expand(
    f"{RESULTS}/models/{DATASET}/{{scene}}/{{run}}.alarm.h5", scene=TRAIN_SCENES, run=RUNS
)


rule calibrate:
    conda:
        "../../environment.yml"
    input:
        model=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.pt",
        frames=lambda wildcards: frame_stores("train", wildcards.scene),
    output:
        f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.alarm.h5",
    params:
        settings=settings("score", "alarm"),
        code=code_fingerprint("alarm", "inference.py", "data/framestore.py", "model", "devices.py"),
    log:
        f"{LOGS}/calibrate/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.log",
    benchmark:
        f"{BENCH}/calibrate/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    shell:
        ddl("calibrate --settings {params.settings:q} --model {input.model:q} --out {output:q} {input.frames:q}")


rule live_score:
    conda:
        "../../environment.yml"
    input:
        model=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.pt",
        calibration=rules.calibrate.output,
        frames=lambda wildcards: frame_stores("test", wildcards.scene),
    output:
        f"{RESULTS}/alarms/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.h5",
    params:
        settings=settings("score"),
        code=code_fingerprint("alarm", "inference.py", "score.py", "scores_io.py", "data/framestore.py", "model", "devices.py"),
    log:
        f"{LOGS}/live_score/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.log",
    benchmark:
        f"{BENCH}/live_score/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.tsv"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    shell:
        ddl(
            "score --settings {params.settings:q} --model {input.model:q} --calibration {input.calibration:q}"
            " --frames {input.frames:q} --out {output:q}"
        )


rule events:
    conda:
        "../../environment.yml"
    input:
        labels=f"{RESULTS}/labels/{DATASET}.h5",
        live=LIVE_FILES,
    output:
        table=report(f"{RESULTS}/tables/events-{DATASET}.md", caption="../report/events_table.rst", category="Tables"),
        csv=f"{RESULTS}/tables/events-{DATASET}.csv",
        figures=report(
            directory(f"{RESULTS}/figures/{DATASET}/events"),
            patterns=["{name}.png"],
            caption="../report/event_curves.rst",
            category="Figures",
        ),
    params:
        settings=settings("alarm", *(f"metrics.{key}" for key in ("region_iou", "track_link_iou", "region_min_pixels"))),
        tables_dir=lambda wildcards, output: str(Path(output.table).parent),
        code=code_fingerprint("alarm", "metrics.py", "scores_io.py", "report.py", "figures.py", "provenance.py", "evaluate"),
    log:
        f"{LOGS}/events.log",
    benchmark:
        f"{BENCH}/events.tsv"
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        ddl(
            "events --settings {params.settings:q} --labels {input.labels:q} --scores {input.live:q}"
            " --tables-dir {params.tables_dir:q} --figures-dir {output.figures:q}"
        )
