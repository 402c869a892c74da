"""The sample XLSForm of the thio survey (``thio_survey.xlsx``) and its generator."""
