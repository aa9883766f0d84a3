"""The gold audit's consistency signal, its settings and its report (`cmner-build audit labels`)."""
