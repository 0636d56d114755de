package rabbitmq

// keyedStage tells whether YAML pipelines deduplicate the records of a
// source that implements connector.Deduplicated in a keyed stage.
const keyedStage = false
