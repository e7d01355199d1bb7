"""AR-LIF digits example: an adaptive-reset LIF MLP, float-trained and deploy-exact fine-tuned."""
