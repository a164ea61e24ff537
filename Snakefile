# ddl: Dynamic Distinction Learning video anomaly detection, as a Snakemake workflow.
#   snakemake --cores 2                                   built-in synthetic benchmark (CPU, minutes)
#   snakemake --cores 8 --configfile config/ped2.yaml     a real dataset
#   snakemake --workflow-profile workflow/profiles/slurm  on a SLURM cluster
# Every stage is a `ddl <stage>` command from the ddlcore package; this file only wires files.

from snakemake.utils import min_version, validate

from ddlcore.config import SCHEMA_PATH, load_schema, typed_strings, validate_config
from ddlcore.errors import DDLError

min_version("9.0")


# config/config.yaml (the synthetic benchmark) is the config only when no --configfile is given: a dataset's
# config file is a whole setting by itself, and the keys it leaves out take the schema's defaults, never the
# synthetic benchmark's. Several --configfile files still merge, left to right.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Snakemake passes the values inside a nested --config (train={seeds: [0, 1, 2]}) as strings: read them as YAML
# where the schema wants a number, a boolean, null or a list
config.update(typed_strings(config, load_schema()))

try:  # one line naming the offending key, before Snakemake's own (verbose) schema check
    validate_config(config)
except DDLError as exc:
    raise WorkflowError(str(exc)) from None
validate(config, str(SCHEMA_PATH))


include: "workflow/rules/common.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/tracking.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/alarms.smk"
include: "workflow/rules/export.smk"


rule all:
    input:
        final_outputs(),
        ALARM_OUTPUTS,
    default_target: True
