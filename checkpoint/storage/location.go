package storage

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"gocloud.dev/blob"
	// The in-memory driver is linked in always; cloud drivers are opt-in
	// imports (drivers, below).
	_ "gocloud.dev/blob/memblob"
)

// drivers names the package that links the driver of each cloud scheme,
// for the error that a location's driver is not linked in.
var drivers = map[string]string{
	"s3":     "github.com/sluicehq/sluice/checkpoint/storage/s3",
	"gs":     "github.com/sluicehq/sluice/checkpoint/storage/gcs",
	"azblob": "github.com/sluicehq/sluice/checkpoint/storage/azure",
}

// isURL reports whether location is a URL rather than a plain path.
func isURL(location string) bool { return strings.Contains(location, "://") }

// localPath returns the absolute local path named by a plain path or a
// file:// URL.
func localPath(location string) (string, error) {
	if !isURL(location) {
		abs, err := filepath.Abs(location)
		if err != nil {
			return "", fmt.Errorf("location %q: %w", location, err)
		}
		return abs, nil
	}
	u, err := url.Parse(location)
	if err != nil {
		return "", fmt.Errorf("location %q: %w", location, err)
	}
	if u.Scheme != "file" {
		return "", fmt.Errorf("location %q is not local", location)
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("location %q: file URLs must be file:///absolute/path", location)
	}
	if u.RawQuery != "" {
		return "", fmt.Errorf("location %q: file URLs take no query parameters", location)
	}
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("location %q: file URLs must be file:///absolute/path", location)
	}
	return filepath.Clean(p), nil
}

// isLocal reports whether location names the local file system.
func isLocal(location string) bool {
	return !isURL(location) || strings.HasPrefix(strings.ToLower(location), "file://")
}

// openBlob opens the bucket named by a gocloud.dev/blob URL whose path (or
// prefix query parameter) is the job's directory inside the bucket. It
// returns the bucket, already restricted to that prefix, and the location
// in normal form, as URL and string: prefix as the path, no prefix
// parameter.
func openBlob(ctx context.Context, location string) (_ *blob.Bucket, _ *url.URL, norm string, _ error) {
	u, err := url.Parse(location)
	if err != nil {
		return nil, nil, "", fmt.Errorf("location %q: %w", location, err)
	}
	q := u.Query()
	prefix := strings.Trim(u.Path, "/")
	if qp := q.Get("prefix"); qp != "" {
		if prefix != "" {
			return nil, nil, "", fmt.Errorf("location %q: give the directory either as the path or as ?prefix=, not both", location)
		}
		prefix = strings.Trim(qp, "/")
		q.Del("prefix")
	}
	if q.Has("key") {
		return nil, nil, "", fmt.Errorf("location %q: the key parameter cannot be used for checkpoint storage", location)
	}
	if prefix != "" && path.Clean(prefix) != prefix {
		return nil, nil, "", fmt.Errorf("location %q: directory %q is not in clean form", location, prefix)
	}
	open := *u
	open.Path, open.RawPath = "", ""
	if u.Query().Has("prefix") {
		open.RawQuery = q.Encode()
	}
	if pkg, ok := drivers[strings.ToLower(u.Scheme)]; ok && !blob.DefaultURLMux().ValidBucketScheme(u.Scheme) {
		return nil, nil, "", fmt.Errorf("location %q: the %s:// driver is not linked into this program; import _ %q", location, u.Scheme, pkg)
	}
	bucket, err := blob.DefaultURLMux().OpenBucketURL(ctx, &open)
	if err != nil {
		return nil, nil, "", fmt.Errorf("open bucket %s://%s: %w", u.Scheme, u.Host, err)
	}
	if prefix != "" {
		bucket = blob.PrefixedBucket(bucket, prefix+"/")
	}
	normURL := open
	if prefix != "" {
		normURL.Path = "/" + prefix
	}
	// Built by hand: url.URL.String writes "mem:" for "mem://".
	norm = normURL.Scheme + "://" + normURL.Host + normURL.EscapedPath()
	if normURL.RawQuery != "" {
		norm += "?" + normURL.RawQuery
	}
	return bucket, &normURL, norm, nil
}

// resolve returns the backend and directory name for a checkpoint path given
// to Load: a directory name of this storage, the full location of one, or a
// local directory elsewhere (a plain path or a file:// URL).
func (s *Storage) resolve(p string) (backend, string, error) {
	if p == "" {
		return nil, "", fmt.Errorf("empty checkpoint path")
	}
	if !isURL(p) && !strings.ContainsRune(p, '/') && !strings.ContainsRune(p, filepath.Separator) {
		if p == "." || p == ".." {
			return nil, "", fmt.Errorf("checkpoint path %q: not a checkpoint directory", p)
		}
		return s.b, p, nil
	}
	if !isLocal(p) {
		u, err := url.Parse(p)
		if err != nil {
			return nil, "", fmt.Errorf("checkpoint path %q: %w", p, err)
		}
		if s.url != nil && u.Scheme == s.url.Scheme && u.Host == s.url.Host {
			dir, base := path.Split(path.Clean("/" + u.Path))
			if path.Clean(dir) == path.Clean("/"+s.url.Path) && base != "" {
				return s.b, base, nil
			}
		}
		return nil, "", fmt.Errorf("checkpoint path %q: only directories of this storage (%s) or local directories can be loaded; open a Storage at the parent location to load it", p, s.Location())
	}
	abs, err := localPath(p)
	if err != nil {
		return nil, "", err
	}
	parent, dir := filepath.Dir(abs), filepath.Base(abs)
	if lb, ok := s.b.(*localBackend); ok {
		if parent == lb.root {
			return s.b, dir, nil
		}
		return newLocalBackend(lb.fs, parent), dir, nil
	}
	return newLocalBackend(OSFS(), parent), dir, nil
}
