"""The outcomes contract: outcome metrics, caps, top-up and payment lag -> payments by quarter."""
