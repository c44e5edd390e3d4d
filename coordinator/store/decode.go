package store

// Decode decodes a value handed to a Scan callback.
func Decode(value []byte, v any) error { return decode(value, v) }
