"""The Faust agents of the saga, and the batch processing every one of them shares."""
