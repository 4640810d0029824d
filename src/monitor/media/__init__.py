"""Statement images (#13): safe decoding, perceptual hashes and OCR of posted images."""
