package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// blobWriterOptions are used for every object written: a fixed content type
// keeps the blob package from buffering the start of the object to sniff
// one.
var blobWriterOptions = blob.WriterOptions{ContentType: "application/octet-stream"}

// blobBackend keeps directories as key prefixes ("<dir>/") of a bucket.
type blobBackend struct {
	bucket *blob.Bucket
	loc    *url.URL // location of the root for dirLocation; nil if not a URL
	locStr string
}

func newBlobBackend(bucket *blob.Bucket, location string) *blobBackend {
	b := &blobBackend{bucket: bucket, locStr: location}
	if u, err := url.Parse(location); err == nil && u.Scheme != "" {
		b.loc = u
	}
	return b
}

func (b *blobBackend) dirLocation(dir string) string {
	if b.loc == nil {
		if b.locStr == "" {
			return dir
		}
		return strings.TrimSuffix(b.locStr, "/") + "/" + dir
	}
	// Without the query: paths shown to users name the directory, the
	// query (endpoint, region, ...) belongs to the Storage's Location.
	u := url.URL{Scheme: b.loc.Scheme, Host: b.loc.Host, Path: path.Join("/", b.loc.Path, dir)}
	return u.String()
}

func key(dir, name string) string { return dir + "/" + name }

// blobErr wraps err with the operation and key, and with ErrNotFound if the
// object does not exist.
func (b *blobBackend) blobErr(op, key string, err error) error {
	where := b.dirLocation(key)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return fmt.Errorf("%s %s: %w: %w", op, where, ErrNotFound, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

func (b *blobBackend) listDirs(ctx context.Context) ([]string, error) {
	var dirs []string
	it := b.bucket.List(&blob.ListOptions{Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return dirs, nil
		}
		if err != nil {
			return nil, b.blobErr("list", "", err)
		}
		if obj.IsDir {
			dirs = append(dirs, strings.TrimSuffix(obj.Key, "/"))
		}
	}
}

func (b *blobBackend) listFiles(ctx context.Context, dir string) ([]entry, error) {
	prefix := dir + "/"
	var entries []entry
	it := b.bucket.List(&blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return nil, b.blobErr("list", dir, err)
		}
		if !obj.IsDir {
			entries = append(entries, entry{name: strings.TrimPrefix(obj.Key, prefix), size: obj.Size, modTime: obj.ModTime})
		}
	}
}

func (b *blobBackend) mkdir(ctx context.Context, dir string) error { return ctx.Err() }

func (b *blobBackend) create(ctx context.Context, dir, name string) (sink, error) {
	ctx, cancel := context.WithCancel(ctx)
	k := key(dir, name)
	w, err := b.bucket.NewWriter(ctx, k, &blobWriterOptions)
	if err != nil {
		cancel()
		return nil, b.blobErr("create", k, err)
	}
	return &blobSink{b: b, key: k, w: w, cancelFunc: cancel}, nil
}

// blobSink streams an object; the object appears when commit returns nil.
type blobSink struct {
	b          *blobBackend
	key        string
	w          *blob.Writer
	cancelFunc context.CancelFunc
}

func (s *blobSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		return n, s.b.blobErr("write", s.key, err)
	}
	return n, nil
}

func (s *blobSink) commit() error {
	defer s.cancelFunc()
	if err := s.w.Close(); err != nil {
		return s.b.blobErr("write", s.key, err)
	}
	return nil
}

func (s *blobSink) cancel() { s.cancelFunc() }

// discard abandons the upload: closing a writer whose context is canceled
// does not create the object.
func (s *blobSink) discard() {
	s.cancelFunc()
	s.w.Close()
}

func (b *blobBackend) publish(ctx context.Context, dir, name string, data []byte) error {
	k := key(dir, name)
	if err := b.bucket.WriteAll(ctx, k, data, &blobWriterOptions); err != nil {
		return b.blobErr("write", k, err)
	}
	return nil
}

func (b *blobBackend) open(ctx context.Context, dir, name string) (io.ReadCloser, error) {
	k := key(dir, name)
	r, err := b.bucket.NewReader(ctx, k, nil)
	if err != nil {
		return nil, b.blobErr("open", k, err)
	}
	return r, nil
}

func (b *blobBackend) remove(ctx context.Context, dir, name string) error {
	k := key(dir, name)
	if err := b.bucket.Delete(ctx, k); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return b.blobErr("delete", k, err)
	}
	return nil
}

func (b *blobBackend) removeDir(ctx context.Context, dir string) error {
	var errs []error
	it := b.bucket.List(&blob.ListOptions{Prefix: dir + "/"})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return b.blobErr("list", dir, err)
		}
		if err := b.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			errs = append(errs, b.blobErr("delete", obj.Key, err))
		}
	}
	return errors.Join(errs...)
}

func (b *blobBackend) close() error { return b.bucket.Close() }
