// Package id makes prefixed, time-sortable identifiers such as usr_01J9…:
// 48 bits of milliseconds then 80 random bits, Crockford base32, so ids sort
// by creation time and keyset pages can order by id alone.
package id

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// last is the previous id's bytes: within one millisecond a process hands
// out ids in increasing order (the random part counts up), so "newest first"
// holds inside a millisecond too. Across processes order is by millisecond.
var (
	mu   sync.Mutex
	last [16]byte
)

// New returns prefix + "_" + a 26-character sortable id for time t.
func New(prefix string, t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	b[0], b[1], b[2], b[3], b[4], b[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	_, _ = rand.Read(b[6:])
	mu.Lock()
	if [6]byte(b[:6]) == [6]byte(last[:6]) && bytes.Compare(b[6:], last[6:]) <= 0 {
		b = last
		for i := 15; i >= 6; i-- { // increment the 80-bit random part
			b[i]++
			if b[i] != 0 {
				break
			}
		}
	}
	last = b
	mu.Unlock()
	return prefix + "_" + encode(b)
}

func encode(b [16]byte) string {
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	// 128 bits as 26 base32 digits, most significant first (the top digit holds 3 bits).
	for i := 25; i >= 0; i-- {
		out[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}
