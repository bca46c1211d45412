"""Deployment helpers: run a CodeBuild buildspec locally, and the CodeBuild batch (fan-out) glue."""
