"""Training data curation: real Kubernetes YAML and docs into validated, deduplicated,
decontaminated chat examples (`kubebench data build`).

The journey of one file: read (`readers`) -> licence, size and template filters and
exact file dedup (`file_filters`) -> split and parse with the grader's parser
(`objects`) -> placeholders (`objects`) -> apiVersion against the server's discovery
(`validation`) -> exact and near dedup (`dedup`) -> credentials (`credentials`) ->
decontamination (`decontamination`) -> server-side dry-run (`validation`) -> related
objects grouped (`grouping`) -> requests and answers (`synthesis`, `docs`) -> a last
decontamination of each example -> train/validation files and card (`output`,
`card`). `pipeline` strings the stages together; `counters` records every drop with its
reason; `contamination_check` re-checks finished output independently; `bench` is
`kubebench bench data`.
"""
