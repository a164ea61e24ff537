# Trained models -> calibration on the scene's normal footage (a sidecar beside the model): held-out
# footage for cameras (never a training frame), the normal training videos for the benchmarks; a camera's
# roi.png goes into its calibration, so its live scores and deployment use it
# -> live (causal) scores and events of the test videos -> event table and curves.

LIVE_FILES = expand(f"{RESULTS}/alarms/{DATASET}/{{scene}}/{{run}}.h5", scene=SCENES, run=RUNS)
# what `snakemake` builds for alarms: every model's calibration and the event table
ALARM_OUTPUTS = [f"{RESULTS}/tables/events-{DATASET}.md"] * bool(SCENES) + expand(
    f"{RESULTS}/models/{DATASET}/{{scene}}/{{run}}.alarm.h5", scene=TRAIN_SCENES, run=RUNS
)


rule calibrate:
    input:
        model=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.pt",
        graphs=model_graphs,
        frames=lambda wildcards: piece_inputs("frames", calibration_split(), wildcards.scene),
        roi=lambda wildcards: roi_files(wildcards.scene),
    output:
        f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.alarm.h5",
    log:
        f"{LOGS}/calibrate/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.log",
    benchmark:
        f"{BENCH}/calibrate/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        settings=settings("score", "alarm"),
        roi=roi_option,
        frames=lambda wildcards: calibration_stores(wildcards.scene),
        code=code_fingerprint("calibrate"),
    shell:
        ddl(
            "calibrate --settings {params.settings:q} --model {input.model:q} {params.roi} --out {output:q} {params.frames:q}"
        )


rule live_score:
    input:
        model=f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.pt",
        graphs=model_graphs,
        calibration=rules.calibrate.output,
        frames=lambda wildcards: piece_inputs("frames", "test", wildcards.scene),
    output:
        f"{RESULTS}/alarms/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.h5",
    log:
        f"{LOGS}/live_score/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.log",
    benchmark:
        f"{BENCH}/live_score/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=4000,
        runtime=60,
    params:
        # how to run the model only: patch and grid of the causal score are the calibration's (its input)
        settings=settings(*(f"score.{k}" for k in config["score"] if k not in FIXED_SCORE_KEYS)),
        frames=lambda wildcards: frame_stores("test", wildcards.scene),
        code=code_fingerprint("score"),
    shell:
        ddl(
            "score --settings {params.settings:q} --model {input.model:q} --calibration {input.calibration:q}"
            " --frames {params.frames:q} --out {output:q}"
        )


rule events:
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
    log:
        f"{LOGS}/events.log",
    benchmark:
        f"{BENCH}/events.tsv"
    conda:
        "../../environment.yml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=settings("alarm", *(f"metrics.{key}" for key in ("region_iou", "track_link_iou", "region_min_pixels"))),
        tables_dir=lambda wildcards, output: str(Path(output.table).parent),
        unlabelled=unlabelled_option(),  # trained scenes without labelled test videos: a line under the table
        code=code_fingerprint("events"),
    shell:
        ddl(
            "events --settings {params.settings:q} --labels {input.labels:q} --scores {input.live:q}"
            " --tables-dir {params.tables_dir:q} --figures-dir {output.figures:q} {params.unlabelled}"
        )


if DATASET == "cameras":

    rule deployment:
        input:
            models=expand(f"{RESULTS}/models/{DATASET}/{{scene}}/{RUNS[0]}.pt", scene=TRAIN_SCENES),
            calibrations=expand(f"{RESULTS}/models/{DATASET}/{{scene}}/{RUNS[0]}.alarm.h5", scene=TRAIN_SCENES),
        output:
            deployment=f"{RESULTS}/deploy/{DATASET}.yaml",
            config=f"{RESULTS}/deploy/{DATASET}.config.yaml",
        log:
            f"{LOGS}/deployment.log",
        conda:
            "../../environment.yml"
        resources:
            mem_mb=500,
            runtime=5,
        params:
            settings=settings(*sorted(config)),  # the whole config: what the models were trained with
            cameras=TRAIN_SCENES,
            code=code_fingerprint("deployment"),
        shell:
            ddl(
                "deployment --settings {params.settings:q} --cameras {params.cameras:q} --models {input.models:q}"
                " --out {output.deployment:q} --config-out {output.config:q}"
            )

    rule camera_table:
        input:
            train=piece_inputs("frames", "train"),
            calibration=piece_inputs("frames", "calibration"),
            calibrations=expand(f"{RESULTS}/models/{DATASET}/{{scene}}/{{run}}.alarm.h5", scene=TRAIN_SCENES, run=RUNS),
            metrics=[f"{RESULTS}/metrics/{DATASET}.json"] if SCENES else [],
            labels=[f"{RESULTS}/labels/{DATASET}.h5"] if SCENES else [],
            live=LIVE_FILES,
        output:
            table=report(
                f"{RESULTS}/tables/cameras-{DATASET}.md", caption="../report/camera_table.rst", category="Tables"
            ),
            csv=f"{RESULTS}/tables/cameras-{DATASET}.csv",
        log:
            f"{LOGS}/camera_table.log",
        conda:
            "../../environment.yml"
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            metrics=lambda wildcards, input: f"--metrics {shlex.quote(input.metrics[0])}" if input.metrics else "",
            events=lambda wildcards, input: (
                f"--labels {shlex.quote(input.labels[0])} --live {' '.join(map(shlex.quote, input.live))}"
                if input.labels
                else ""
            ),
            train=frame_stores("train"),
            calibration=frame_stores("calibration"),
            code=code_fingerprint("camera-table"),
        shell:
            ddl(
                "camera-table --train-frames {params.train:q} --calibration-frames {params.calibration:q}"
                " --calibrations {input.calibrations:q} {params.metrics} {params.events} --out {output.table:q}"
            )
