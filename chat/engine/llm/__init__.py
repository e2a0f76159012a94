"""The language-model assistant: proposes returns through the tool catalogue; the guided engine is its fallback."""
