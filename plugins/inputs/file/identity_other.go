//go:build !unix

package file

import (
	"os"
	"path/filepath"
)

// identity returns a key for a file.
//
// Limitation: without inode numbers a file is known by its path — on such
// systems a file replaced by rotation is taken for the same file rewritten
// (read again from its start, the rest of the old one unread), so rotation
// by rename is not followed; a fix needs the platform's file ID (on
// Windows, GetFileInformationByHandle).
func identity(path string, _ os.FileInfo) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return "path:" + abs
}
