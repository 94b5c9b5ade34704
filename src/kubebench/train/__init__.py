"""Fine-tuning: TRL SFT with PEFT LoRA/QLoRA, loss-curve analysis, export, model cards."""
