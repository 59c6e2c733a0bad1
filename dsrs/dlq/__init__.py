"""Dead letters: messages that can never be processed as they are, kept with the reason."""
