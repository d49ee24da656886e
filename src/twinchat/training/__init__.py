"""Train: fine-tune a seq2seq or causal model on a prepared dataset (`train.train`)."""
