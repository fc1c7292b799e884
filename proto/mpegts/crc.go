package mpegts

// crcTable is the MPEG-2 CRC-32 of PSI sections (polynomial 0x04C11DB7, not
// reflected, initial value 0xFFFFFFFF, no final XOR); hash/crc32 only does
// the reflected kind.
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04C11DB7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc32 is the CRC of a PSI section; a section followed by its CRC sums to 0.
func crc32(b []byte) uint32 {
	crc := uint32(0xFFFFFFFF)
	for _, v := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^v]
	}
	return crc
}
