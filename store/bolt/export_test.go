package bolt

import (
	bbolt "go.etcd.io/bbolt"
)

// DiskKeys returns the keys of each bucket of the database at path, which
// must be closed.
func DiskKeys(path string) (map[string][]string, error) {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: openTimeout})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out := map[string][]string{}
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, _ []byte) error {
				out[string(name)] = append(out[string(name)], string(k))
				return nil
			})
		})
	})
	return out, err
}

// PutRaw writes value under key in bucket of the database at path, which
// must be closed.
func PutRaw(path, bucket, key string, value []byte) error {
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: openTimeout})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte(bucket)).Put([]byte(key), value)
	})
}
