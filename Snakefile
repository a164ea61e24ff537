# The workflow is workflow/Snakefile (the layout of the Snakemake workflow catalog and `snakedeploy`); this file
# keeps `snakemake` and `snakemake -s Snakefile` working from the repository root.
include: "workflow/Snakefile"


# Snakemake drops an included file's `default_target` (snakemake/snakemake#2056): name rule all again here.
workflow.default_target = "all"
