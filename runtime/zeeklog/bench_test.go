package zeeklog

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// BenchmarkReader measures records per second for each format, over the
// test excerpts repeated to about 4 MB.
func BenchmarkReader(b *testing.B) {
	for _, name := range []string{"tsv/smtp.log", "json/smtp.log", "tsv/notice.log"} {
		b.Run(name, func(b *testing.B) {
			one, err := os.ReadFile("testdata/" + name)
			if err != nil {
				b.Fatal(err)
			}
			header, body := splitHeader(one)
			data := append([]byte(nil), header...)
			for len(data) < 4<<20 {
				data = append(data, body...)
			}
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			records := 0
			for range b.N {
				r := NewReader(bytes.NewReader(data), name)
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					records++
				}
			}
			b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// splitHeader cuts the leading # lines off a log.
func splitHeader(data []byte) (header, body []byte) {
	i := 0
	for i < len(data) && data[i] == '#' {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return data[:i], data[i:]
}
