"""Training: the Trainer subclass and its sampler, and the peft methods."""
