"""Model importers: turn a model file into a lowp.graph.Graph."""
