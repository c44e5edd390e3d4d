package store

// Decode decodes a value handed to a Scan callback.
func Decode(value []byte, v any) error { return decode(value, v) }

// All decodes every record of ns whose key starts with prefix, in key order.
func All[T any](tx Tx, ns, prefix string) ([]T, error) {
	var out []T
	err := tx.Scan(ns, prefix, func(_ string, v []byte) error {
		var r T
		if err := decode(v, &r); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}
