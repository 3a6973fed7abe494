// Command tlogcheck reads a log published as C2SP tlog-tiles with Go's own transparency-log
// code (golang.org/x/mod/sumdb/tlog and note) and checks it as a stranger would: the
// checkpoint's signature, one record's inclusion proof and one consistency proof from an
// older checkpoint, each computed from the published tiles alone.
//
// Go's tlog names tiles tile/H/L/N[.p/W] (the tile height in the path, level -1 as "data")
// while C2SP tlog-tiles names them tile/L/N[.p/W] and tile/entries/N[.p/W]; the tile reader
// below maps one onto the other and serves height 8, C2SP's only height.
//
// Usage: tlogcheck DIR VERIFIER-KEY OLD-CHECKPOINT-FILE INDEX
package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

// c2spTiles serves tiles from a C2SP tlog-tiles folder to Go's tlog.
type c2spTiles struct{ dir string }

func (t c2spTiles) Height() int { return height }

func c2spPath(tile tlog.Tile) string {
	goPath := tile.Path() // tile/8/L/N[.p/W] or tile/8/data/N[.p/W]
	prefix := fmt.Sprintf("tile/%d/", height)
	rest := strings.TrimPrefix(goPath, prefix)
	if strings.HasPrefix(rest, "data/") {
		rest = "entries/" + strings.TrimPrefix(rest, "data/")
	}
	return "tile/" + rest
}

func (t c2spTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, tile := range tiles {
		b, err := os.ReadFile(filepath.Join(t.dir, filepath.FromSlash(c2spPath(tile))))
		if err != nil {
			return nil, err
		}
		data[i] = b
	}
	return data, nil
}

func (t c2spTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// openCheckpoint verifies a checkpoint note with the log's key and reads its tree.
func openCheckpoint(path string, verifier note.Verifier) (string, tlog.Tree, *note.Note) {
	msg, err := os.ReadFile(path)
	check(err, "read "+path)
	n, err := note.Open(msg, note.VerifierList(verifier))
	check(err, "open the note "+path)
	lines := strings.Split(n.Text, "\n")
	if len(lines) < 4 {
		fail("%s: not a checkpoint", path)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	check(err, "tree size of "+path)
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != tlog.HashSize {
		fail("%s: bad root hash", path)
	}
	var root tlog.Hash
	copy(root[:], raw)
	return lines[0], tlog.Tree{N: size, Hash: root}, n
}

// entryAt reads entry `index` from its C2SP entry bundle in a tree of `size`.
func entryAt(dir string, size, index int64) []byte {
	n := index / 256
	width := int64(256)
	if (n+1)*256 > size {
		width = size % 256
	}
	tile := tlog.Tile{H: height, L: -1, N: n, W: int(width)}
	bundle, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(c2spPath(tile))))
	check(err, "read the entry bundle")
	for i := int64(0); len(bundle) >= 2; i++ {
		length := int(binary.BigEndian.Uint16(bundle))
		if len(bundle) < 2+length {
			fail("entry bundle %s ends inside an entry", c2spPath(tile))
		}
		if i == index%256 {
			return bundle[2 : 2+length]
		}
		bundle = bundle[2+length:]
	}
	fail("entry %d is not in its bundle", index)
	return nil
}

func main() {
	if len(os.Args) != 5 {
		fail("usage: tlogcheck DIR VERIFIER-KEY OLD-CHECKPOINT-FILE INDEX")
	}
	dir, vkey, oldPath := os.Args[1], os.Args[2], os.Args[3]
	index, err := strconv.ParseInt(os.Args[4], 10, 64)
	check(err, "index")
	verifier, err := note.NewVerifier(vkey)
	check(err, "verifier key")

	origin, tree, n := openCheckpoint(filepath.Join(dir, "checkpoint"), verifier)
	fmt.Printf("checkpoint %s size %d signed by %s (%d other signatures not checked)\n",
		origin, tree.N, n.Sigs[0].Name, len(n.UnverifiedSigs))
	hashes := tlog.TileHashReader(tree, c2spTiles{dir})

	entry := entryAt(dir, tree.N, index)
	proof, err := tlog.ProveRecord(tree.N, index, hashes)
	check(err, "prove the record from the tiles")
	check(tlog.CheckRecord(proof, tree.N, tree.Hash, index, tlog.RecordHash(entry)),
		"check the inclusion proof")
	fmt.Printf("inclusion ok: entry %d = %s, %d hashes\n", index, hex.EncodeToString(entry), len(proof))

	oldOrigin, old, _ := openCheckpoint(oldPath, verifier)
	if oldOrigin != origin {
		fail("the old checkpoint is of another log (%s)", oldOrigin)
	}
	treeProof, err := tlog.ProveTree(tree.N, old.N, hashes)
	check(err, "prove the tree from the tiles")
	check(tlog.CheckTree(treeProof, tree.N, tree.Hash, old.N, old.Hash), "check the consistency proof")
	fmt.Printf("consistency ok: %d -> %d, %d hashes\n", old.N, tree.N, len(treeProof))
}

func check(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogcheck: "+format+"\n", args...)
	os.Exit(1)
}
