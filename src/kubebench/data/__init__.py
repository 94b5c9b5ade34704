"""Training data curation: real Kubernetes YAML and docs into validated, deduplicated,
decontaminated chat examples (`kubebench data build`).

The journey of one file: read (`readers`) -> file filters (`file_filters`) -> split and
parse with the grader's parser (`objects`) -> placeholders and credentials
(`objects`, `credentials`) -> apiVersion against discovery and server-side dry-run
(`validation`) -> exact and near dedup (`dedup`) -> decontamination (`decontamination`)
-> requests and answers (`synthesis`, `docs`) -> train/validation files and card
(`output`, `card`). `pipeline` strings the stages together; `counters` records every
drop with its reason.
"""
