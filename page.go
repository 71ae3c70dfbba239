package steward

// Page is one page of a keyset-paginated list.
type Page[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
	HasMore    bool    `json:"has_more"`
	Total      *int64  `json:"total,omitempty"`
}

// ListParams are what every list takes: a page size and an opaque cursor.
type ListParams struct {
	Limit        int
	Cursor       string
	IncludeTotal bool
}

// Page size bounds.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)
