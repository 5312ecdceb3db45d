package processors

import (
	"encoding/binary"
	"hash"
)

// KafkaHasher returns goka's key hasher for Kafka's default partitioner:
// murmur2 with the sign bit masked, as the Java client and franz-go compute
// it. Masking inside Sum32 makes goka's "abs, then modulo" land on the same
// partition as Kafka's "mask, then modulo", so a record keyed by any
// standard producer sits on the partition whose table holds its key.
func KafkaHasher() hash.Hash32 { return &murmur2{} }

type murmur2 struct{ buf []byte }

func (m *murmur2) Write(p []byte) (int, error) { m.buf = append(m.buf, p...); return len(p), nil }
func (m *murmur2) Sum(b []byte) []byte         { return binary.BigEndian.AppendUint32(b, m.Sum32()) }
func (m *murmur2) Reset()                      { m.buf = m.buf[:0] }
func (m *murmur2) Size() int                   { return 4 }
func (m *murmur2) BlockSize() int              { return 4 }

// Sum32 is Kafka's Utils.murmur2 & 0x7fffffff.
func (m *murmur2) Sum32() uint32 {
	const (
		seed uint32 = 0x9747b28c
		mul  uint32 = 0x5bd1e995
		r           = 24
	)
	b := m.buf
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := binary.LittleEndian.Uint32(b)
		k *= mul
		k ^= k >> r
		k *= mul
		h *= mul
		h ^= k
		b = b[4:]
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= mul
	}
	h ^= h >> 13
	h *= mul
	h ^= h >> 15
	return h & 0x7fffffff
}
