package postgres

import (
	"context"
	"database/sql/driver"

	"github.com/jackc/pgx/v5"
)

// Rows are decoded by the decoders shared with the SQLite backend
// (store/internal/sqlrow), which take a row's values as the drivers hand
// them over; pgx gives them with Rows.Values.

// querier is what the pool and a transaction share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// eachRow runs q on db and calls fn with each row's values (valid during
// the call only).
func eachRow(ctx context.Context, db querier, fn func(row []driver.Value) error, q string, args ...any) error {
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var row []driver.Value
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		row = row[:0]
		for _, v := range vals {
			row = append(row, v)
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return rows.Err()
}

// queryAll runs q on db and decodes its rows with decode.
func queryAll[T any](ctx context.Context, db querier, decode func([]driver.Value) (T, error), q string, args ...any) ([]T, error) {
	var out []T
	err := eachRow(ctx, db, func(row []driver.Value) error {
		v, err := decode(row)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	}, q, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// queryOne runs q, a query of at most one row, on db and decodes the row
// with decode; pgx.ErrNoRows when there is none.
func queryOne[T any](ctx context.Context, db querier, decode func([]driver.Value) (T, error), q string, args ...any) (T, error) {
	out, err := queryAll(ctx, db, decode, q, args...)
	if err == nil && len(out) == 0 {
		err = pgx.ErrNoRows
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return out[0], nil
}
