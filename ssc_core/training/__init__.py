"""Training the cascade: datasets, data synthesis, balanced sampling, training loops, evaluation."""
