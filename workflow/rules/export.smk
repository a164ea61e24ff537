# Trained model -> its inference graphs for score.runtime onnxruntime / openvino (M.pt -> M.onnx/), exported
# once per model file before any job scores with it (score, calibrate, live_score take them as an input,
# model_graphs in common.smk). With a runtime that scores through torch there is no graph and no export job.


rule export_model:
    input:
        f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.pt",
    output:
        directory(f"{RESULTS}/models/{DATASET}/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.onnx"),
    log:
        f"{LOGS}/export/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.log",
    benchmark:
        f"{BENCH}/export/{{scene}}/{{arch}}-{{variant}}-seed{{seed}}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=code_fingerprint("export"),
    shell:
        ddl("export --model {input:q}")
