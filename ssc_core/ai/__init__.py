"""The AI cascade: networks, model bundles, inference, replacement heat maps, batch scoring."""
