"""A test stand-in for S3 storage: the S3 REST API served from a local directory tree, s3://BUCKET/KEY being the file
<root>/BUCKET/KEY. Spark reaches the same tree through the Hadoop shim (gluesim/shim.py), so both see one storage.

Only files are objects: local directories (which Spark's shim creates for every "directory") never show up in
listings, and a key ending in '/' PUT with an empty body just creates its directory. State that is not an object lives
in dot-directories of <root> that no bucket name can take: .tmp (writes are staged there, then os.replace'd into
place), .uploads (multipart uploads in progress) and .meta (a sidecar per object with its ETag and Content-Type, valid
while the file's size, mtime and inode are unchanged; files written by Spark get their MD5 ETag computed on first use).
Requests are not authenticated: signatures are ignored.
"""

import base64
import contextlib
import hashlib
import ipaddress
import json
import os
import re
import shutil
import stat
import tempfile
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO
from urllib.parse import quote, unquote

from werkzeug.http import http_date
from werkzeug.wrappers import Request, Response

from .errors import AwsError

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
DEFAULT_CONTENT_TYPE = "binary/octet-stream"
MIN_PART_SIZE = 5 * 1024 * 1024
CHUNK = 1024 * 1024
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Query parameters that are arguments of an operation; any other query key names a subresource (?uploads, ?acl...).
PARAMS = frozenset({"x-id", "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "start-after",
                    "encoding-type", "fetch-owner", "marker", "partNumber", "versionId"})
BUCKET_OPERATIONS = {("PUT", ""): "CreateBucket", ("HEAD", ""): "HeadBucket", ("DELETE", ""): "DeleteBucket",
                     ("GET", "location"): "GetBucketLocation", ("POST", "delete"): "DeleteObjects"}
OBJECT_OPERATIONS = {("GET", ""): "GetObject", ("HEAD", ""): "HeadObject", ("PUT", ""): "PutObject",
                     ("DELETE", ""): "DeleteObject", ("POST", "uploads"): "CreateMultipartUpload",
                     ("PUT", "uploadId"): "UploadPart", ("POST", "uploadId"): "CompleteMultipartUpload",
                     ("DELETE", "uploadId"): "AbortMultipartUpload"}
VERBS = {"GET": "Get", "PUT": "Put", "POST": "Post", "DELETE": "Delete", "HEAD": "Head"}


@dataclass(frozen=True)
class _Route:
    operation: str
    bucket: str
    key: str


@dataclass(frozen=True)
class _Object:
    path: str
    size: int
    mtime: float
    etag: str  # unquoted
    content_type: str


def _element(tag: str, parent: ET.Element | None = None, namespace: str | None = NS, **fields: object) -> ET.Element:
    """An XML element (a root one in `namespace`) with a child element per field that is not None."""
    if parent is not None:
        element = ET.SubElement(parent, tag)
    else:
        element = ET.Element(tag, xmlns=namespace) if namespace else ET.Element(tag)
    for name, value in fields.items():
        if value is not None:
            ET.SubElement(element, name).text = str(value)
    return element


def _xml(root: ET.Element, status: int = 200) -> Response:
    body = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
    return Response(body.encode(), status=status, content_type="application/xml")


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    """Children named `name` whatever their XML namespace."""
    return [child for child in element if child.tag.rsplit("}", 1)[-1] == name]


def _text(element: ET.Element, name: str) -> str:
    found = _children(element, name)
    return (found[0].text or "") if found else ""


def _precondition_failed() -> AwsError:
    return AwsError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold.", 412)


def _iso(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _read_chunks(file: BinaryIO, length: int) -> Iterator[bytes]:
    with file:
        while length > 0:
            chunk = file.read(min(length, CHUNK))
            if not chunk:
                return
            length -= len(chunk)
            yield chunk


def _decode_aws_chunked(body: bytes) -> bytes:
    """The payload of an aws-chunked body: `<hex size>[;chunk-signature=..]\\r\\n<data>\\r\\n` ... `0\\r\\n<trailers>`."""
    out, pos = bytearray(), 0
    while True:
        end = body.find(b"\r\n", pos)
        try:
            size = int(body[pos:end].split(b";")[0], 16) if end >= 0 else -1
        except ValueError:
            size = -1
        if size < 0 or end + 2 + size > len(body):
            raise AwsError("IncompleteBody", "The aws-chunked request body is malformed or truncated.")
        if size == 0:
            return bytes(out)
        out += body[end + 2:end + 2 + size]
        pos = end + 2 + size + 2


class FileS3:
    """The S3 REST API over the directory `root` (path-style and virtual-hosted-style addressing)."""

    def __init__(self, root: str, region: str = "us-east-1"):
        self.root = os.path.abspath(root)
        self.region = region
        self._tmp = os.path.join(self.root, ".tmp")
        self._lock = threading.RLock()  # serialises publishing an object with its conditions and sidecar
        self._handlers: dict[str, Callable[[Request, str, str], Response]] = {
            "ListBuckets": self._list_buckets, "CreateBucket": self._create_bucket, "HeadBucket": self._head_bucket,
            "DeleteBucket": self._delete_bucket, "GetBucketLocation": self._get_bucket_location,
            "ListObjects": self._list_objects, "ListObjectsV2": self._list_objects, "GetObject": self._get_object,
            "HeadObject": self._get_object, "PutObject": self._put_object, "CopyObject": self._copy_object,
            "DeleteObject": self._delete_object, "DeleteObjects": self._delete_objects,
            "CreateMultipartUpload": self._create_multipart_upload, "UploadPart": self._upload_part,
            "CompleteMultipartUpload": self._complete_multipart_upload,
            "AbortMultipartUpload": self._abort_multipart_upload,
        }
        os.makedirs(self._tmp, exist_ok=True)

    # -- routing ----------------------------------------------------------------------------------------------------

    def operation(self, request: Request) -> str:
        """The name of the S3 operation a request calls (for the request log)."""
        return self._route(request).operation

    def handle(self, request: Request) -> Response:
        route = self._route(request)
        try:
            handler = self._handlers.get(route.operation)
            if handler is None:
                raise AwsError("NotImplemented", f"The S3 simulator does not implement {route.operation}.", 501)
            return handler(request, route.bucket, route.key)
        except AwsError as error:
            return self._error(error, route)
        except OSError as error:
            return self._error(AwsError("InternalError", f"{type(error).__name__}: {error}", 500), route)

    def _route(self, request: Request) -> _Route:
        host = request.host
        host = host[1:host.find("]")] if host.startswith("[") else host.split(":")[0]
        labels = host.split(".")
        try:
            ipaddress.ip_address(host)
            virtual = False
        except ValueError:
            virtual = len(labels) > 1 and labels[0] not in ("localhost", "s3")
        if virtual:
            bucket, key = labels[0], request.path[1:]
        else:
            bucket, _, key = request.path[1:].partition("/")
        method = request.method
        sub = next((arg for arg in request.args if arg not in PARAMS and not arg.startswith("response-")), "")
        copy = "x-amz-copy-source" in request.headers
        if not bucket:
            operation = "ListBuckets" if (method, sub) == ("GET", "") else None
        elif not key:
            if (method, sub) == ("GET", ""):
                operation = "ListObjectsV2" if request.args.get("list-type") == "2" else "ListObjects"
            else:
                operation = BUCKET_OPERATIONS.get((method, sub))
        else:
            operation = OBJECT_OPERATIONS.get((method, sub))
            if copy and operation in ("PutObject", "UploadPart"):
                operation = "CopyObject" if operation == "PutObject" else "UploadPartCopy"
        if operation is None:
            noun = "Object" if key else "Bucket" if bucket else "Service"
            operation = f"{VERBS.get(method, method.title())}{noun}{sub[:1].upper()}{sub[1:]}"
        return _Route(operation, bucket, key)

    @staticmethod
    def _error(error: AwsError, route: _Route) -> Response:
        return _xml(_element("Error", namespace=None, Code=error.code, Message=error.message, Key=route.key or None,
                             BucketName=route.bucket or None), error.status)

    # -- storage ----------------------------------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> str:
        path = os.path.join(self.root, bucket)
        if bucket.startswith(".") or not os.path.isdir(path):
            raise AwsError("NoSuchBucket", "The specified bucket does not exist.", 404)
        return path

    def _object_path(self, bucket: str, key: str) -> str:
        segments = key.split("/")
        if key.endswith("/"):
            segments.pop()
        if "\0" in key or any(segment in ("", ".", "..") for segment in segments):
            raise AwsError("InvalidArgument", f"The S3 simulator stores keys as file paths and cannot store {key!r}: "
                                              "empty, '.' and '..' path segments are not allowed.")
        return os.path.join(self._bucket_dir(bucket), *segments)

    def _meta_path(self, bucket: str, key: str) -> str:
        return os.path.join(self.root, ".meta", hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest() + ".json")

    def _write_meta(self, bucket: str, key: str, meta: dict) -> None:
        path = self._meta_path(bucket, key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, staged = tempfile.mkstemp(dir=self._tmp, prefix="meta-")
        with os.fdopen(fd, "w") as f:
            json.dump(meta, f)
        os.replace(staged, path)

    def _object(self, bucket: str, key: str) -> _Object:
        path = self._object_path(bucket, key)
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) or key.endswith("/"):
                raise FileNotFoundError(path)
            stamp = [info.st_size, info.st_mtime_ns, info.st_ino]
            try:
                with open(self._meta_path(bucket, key)) as f:
                    meta = json.load(f)
            except (OSError, ValueError):
                meta = {}
            if meta.get("stamp") != stamp:  # no sidecar, or one of an older file (e.g. Spark wrote this one)
                digest = hashlib.md5()
                with open(path, "rb") as f:
                    for chunk in iter(lambda: f.read(CHUNK), b""):
                        digest.update(chunk)
                meta = {"stamp": stamp, "etag": digest.hexdigest(), "content_type": DEFAULT_CONTENT_TYPE}
                with self._lock, contextlib.suppress(OSError):  # the sidecar only caches the MD5
                    if os.stat(path).st_ino == info.st_ino:
                        self._write_meta(bucket, key, meta)
        except (FileNotFoundError, NotADirectoryError) as error:  # also when deleted meanwhile
            raise AwsError("NoSuchKey", "The specified key does not exist.", 404) from error
        return _Object(path, info.st_size, info.st_mtime, meta["etag"], meta["content_type"])

    def _exists(self, bucket: str, key: str) -> _Object | None:
        try:
            return self._object(bucket, key)
        except AwsError as error:
            if error.code != "NoSuchKey":
                raise
            return None

    def _stage(self, chunks: Iterable[bytes]) -> tuple[str, str]:
        """Writes `chunks` to a new file under .tmp: its path and the MD5 hex of the content."""
        digest = hashlib.md5()
        fd, staged = tempfile.mkstemp(dir=self._tmp, prefix="object-")
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                digest.update(chunk)
                f.write(chunk)
        return staged, digest.hexdigest()

    def _publish(self, bucket: str, key: str, staged: str, etag: str, content_type: str,
                 conditions: Request | None = None) -> _Object:
        """Moves a staged file into place as the object, checking the If-Match/If-None-Match of `conditions`."""
        path = self._object_path(bucket, key)
        try:
            with self._lock:
                if conditions is not None and (conditions.if_match or conditions.if_none_match):
                    current = self._exists(bucket, key)
                    if conditions.if_match and current is None:
                        raise AwsError("NoSuchKey", "The specified key does not exist.", 404)
                    if (conditions.if_match and not conditions.if_match.contains(current.etag)) or (
                            conditions.if_none_match and current is not None
                            and conditions.if_none_match.contains(current.etag)):
                        raise _precondition_failed()
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(staged, path)
                info = os.stat(path)
                self._write_meta(bucket, key, {"stamp": [info.st_size, info.st_mtime_ns, info.st_ino],
                                               "etag": etag, "content_type": content_type})
        except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
            raise self._conflict(key) from error
        finally:
            if os.path.exists(staged):
                os.remove(staged)
        return _Object(path, info.st_size, info.st_mtime, etag, content_type)

    @staticmethod
    def _conflict(key: str) -> AwsError:
        return AwsError("NotImplemented", f"The S3 simulator keeps objects as files and cannot store {key!r} where a "
                                          "directory (or an object under which it would be a directory) exists.", 501)

    @staticmethod
    def _body(request: Request) -> bytes:
        data = request.get_data()
        if "aws-chunked" in request.headers.get("Content-Encoding", "") or request.headers.get(
                "x-amz-content-sha256", "").startswith("STREAMING-"):
            data = _decode_aws_chunked(data)
            declared = request.headers.get("x-amz-decoded-content-length")
            if declared is not None and declared != str(len(data)):
                raise AwsError("IncompleteBody", "The body does not have x-amz-decoded-content-length bytes.")
        md5 = request.headers.get("Content-MD5")
        if md5 is not None and md5 != base64.b64encode(hashlib.md5(data).digest()).decode():
            raise AwsError("BadDigest", "The Content-MD5 you specified did not match what was received.")
        return data

    # -- buckets ----------------------------------------------------------------------------------------------------

    def _list_buckets(self, request: Request, bucket: str, key: str) -> Response:
        root = _element("ListAllMyBucketsResult")
        buckets = _element("Buckets", root)
        for entry in sorted(os.scandir(self.root), key=lambda entry: entry.name):
            if entry.is_dir() and not entry.name.startswith("."):
                _element("Bucket", buckets, Name=entry.name, CreationDate=_iso(entry.stat().st_mtime))
        return _xml(root)

    def _create_bucket(self, request: Request, bucket: str, key: str) -> Response:
        if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket:
            raise AwsError("InvalidBucketName", "The specified bucket is not valid.")
        os.makedirs(os.path.join(self.root, bucket), exist_ok=True)
        return Response(status=200, headers={"Location": f"/{bucket}"})

    def _head_bucket(self, request: Request, bucket: str, key: str) -> Response:
        self._bucket_dir(bucket)
        return Response(status=200, headers={"x-amz-bucket-region": self.region})

    def _delete_bucket(self, request: Request, bucket: str, key: str) -> Response:
        path = self._bucket_dir(bucket)
        if any(files for _, _, files in os.walk(path)):
            raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty.", 409)
        shutil.rmtree(path)
        return Response(status=204)

    def _get_bucket_location(self, request: Request, bucket: str, key: str) -> Response:
        self._bucket_dir(bucket)
        root = _element("LocationConstraint")
        root.text = None if self.region == "us-east-1" else self.region  # us-east-1 is the empty constraint
        return _xml(root)

    # -- listings ---------------------------------------------------------------------------------------------------

    def _keys(self, bucket: str, prefix: str) -> list[str]:
        """The keys (files) of a bucket that start with `prefix`, in UTF-8 binary order."""
        base = self._bucket_dir(bucket)
        folders = prefix.split("/")[:-1]
        if any(segment in ("", ".", "..") for segment in folders):
            return []
        keys = []
        for folder, _, files in os.walk(os.path.join(base, *folders)):
            relative = os.path.relpath(folder, base).replace(os.sep, "/")
            head = "" if relative == "." else relative + "/"
            keys.extend(head + name for name in files if (head + name).startswith(prefix))
        return sorted(keys)  # code point order of str is the byte order of UTF-8

    def _list_objects(self, request: Request, bucket: str, key: str) -> Response:
        args = request.args
        v2 = args.get("list-type") == "2"
        prefix, delimiter = args.get("prefix", ""), args.get("delimiter", "")
        encoding = args.get("encoding-type")
        if encoding not in (None, "url"):
            raise AwsError("InvalidArgument", "Invalid Encoding Method specified in Request")
        try:
            max_keys = min(int(args.get("max-keys", "1000")), 1000)
            token = args.get("continuation-token")
            marker = (base64.urlsafe_b64decode(token.encode()).decode() if token is not None
                      else args.get("start-after" if v2 else "marker", ""))
        except ValueError as error:
            raise AwsError("InvalidArgument", f"Invalid max-keys or continuation-token: {error}") from error
        if max_keys < 0:
            raise AwsError("InvalidArgument", "max-keys must not be negative")

        entries: list[tuple[str, bool]] = []  # (key or common prefix, is a common prefix)
        truncated = False
        for name in self._keys(bucket, prefix):
            rolled = name
            cut = name.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                rolled = name[:cut + len(delimiter)]
            if name <= marker or (cut >= 0 and marker.startswith(rolled)) or (entries and entries[-1][0] == rolled):
                continue
            if len(entries) == max_keys:
                truncated = True
                break
            entries.append((rolled, cut >= 0))

        def encoded(value: str) -> str:
            return quote(value, safe="/") if encoding else value

        last = entries[-1][0] if truncated else None
        if v2:
            paging = {"ContinuationToken": token,
                      "StartAfter": encoded(args["start-after"]) if "start-after" in args else None,
                      "NextContinuationToken": last and base64.urlsafe_b64encode(last.encode()).decode()}
        else:
            paging = {"Marker": encoded(marker), "NextMarker": last and encoded(last)}
        root = _element("ListBucketResult", Name=bucket, Prefix=encoded(prefix), Delimiter=encoded(delimiter) or None,
                        EncodingType=encoding, MaxKeys=max_keys, IsTruncated=str(truncated).lower(), **paging)
        count = 0
        for name, is_prefix in entries:
            if is_prefix:
                _element("CommonPrefixes", root, Prefix=encoded(name))
            elif (obj := self._exists(bucket, name)) is not None:  # None: deleted since the walk
                _element("Contents", root, Key=encoded(name), LastModified=_iso(obj.mtime), ETag=f'"{obj.etag}"',
                         Size=obj.size, StorageClass="STANDARD")
            else:
                continue
            count += 1
        if v2:
            _element("KeyCount", root).text = str(count)
        return _xml(root)

    # -- objects ----------------------------------------------------------------------------------------------------

    def _get_object(self, request: Request, bucket: str, key: str) -> Response:
        obj = self._object(bucket, key)
        headers = {"ETag": f'"{obj.etag}"', "Last-Modified": http_date(obj.mtime), "Accept-Ranges": "bytes",
                   "Content-Type": obj.content_type}
        if request.if_match and not request.if_match.contains(obj.etag):
            raise _precondition_failed()
        if request.if_none_match and request.if_none_match.contains(obj.etag):
            return Response(status=304, headers=headers)
        start, length, status = 0, obj.size, 200
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", request.headers.get("Range", "").strip())
        if match and match.groups() != ("", ""):
            first, last = match.groups()
            if first:
                start, end = int(first), min(int(last), obj.size - 1) if last else obj.size - 1
            else:
                start, end = max(obj.size - int(last), 0), obj.size - 1
            if start > end:
                raise AwsError("InvalidRange", "The requested range is not satisfiable", 416)
            length, status = end - start + 1, 206
            headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
        headers["Content-Length"] = str(length)
        if request.method == "HEAD":
            return Response(status=status, headers=headers)
        file = open(obj.path, "rb")
        file.seek(start)
        return Response(_read_chunks(file, length), status=status, headers=headers, direct_passthrough=True)

    def _put_object(self, request: Request, bucket: str, key: str) -> Response:
        data = self._body(request)
        if key.endswith("/"):
            if data:
                raise self._conflict(key)
            try:
                os.makedirs(self._object_path(bucket, key), exist_ok=True)
            except (FileExistsError, NotADirectoryError) as error:
                raise self._conflict(key) from error
            return Response(status=200, headers={"ETag": f'"{hashlib.md5(b"").hexdigest()}"'})
        self._object_path(bucket, key)  # validate the key before staging its body
        staged, etag = self._stage([data])
        content_type = request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
        obj = self._publish(bucket, key, staged, etag, content_type, conditions=request)
        return Response(status=200, headers={"ETag": f'"{obj.etag}"'})

    def _copy_object(self, request: Request, bucket: str, key: str) -> Response:
        source = unquote(request.headers["x-amz-copy-source"]).split("?")[0].lstrip("/")
        source_bucket, _, source_key = source.partition("/")
        original = self._object(source_bucket, source_key)
        self._object_path(bucket, key)
        staged, etag = self._stage(_read_chunks(open(original.path, "rb"), original.size))
        replace = request.headers.get("x-amz-metadata-directive") == "REPLACE"
        content_type = (request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE) if replace \
            else original.content_type
        obj = self._publish(bucket, key, staged, etag, content_type)
        return _xml(_element("CopyObjectResult", LastModified=_iso(obj.mtime), ETag=f'"{obj.etag}"'))

    def _remove(self, bucket: str, key: str) -> None:
        path = self._object_path(bucket, key)
        try:
            if key.endswith("/"):  # a directory marker: its directory goes when empty
                if os.path.isdir(path) and not os.listdir(path):
                    os.rmdir(path)
            elif os.path.isfile(path):
                os.remove(path)
            os.remove(self._meta_path(bucket, key))
        except FileNotFoundError:  # no sidecar, or deleted concurrently
            pass

    def _delete_object(self, request: Request, bucket: str, key: str) -> Response:
        self._remove(bucket, key)
        return Response(status=204)

    def _delete_objects(self, request: Request, bucket: str, key: str) -> Response:
        self._bucket_dir(bucket)
        try:
            document = ET.fromstring(request.get_data())
        except ET.ParseError as error:
            raise AwsError("MalformedXML", f"The XML you provided was not well-formed: {error}") from error
        quiet = _text(document, "Quiet").strip().lower() == "true"
        root = _element("DeleteResult")
        for item in _children(document, "Object"):
            name = _text(item, "Key")
            try:
                self._remove(bucket, name)
                if not quiet:
                    _element("Deleted", root, Key=name)
            except AwsError as error:
                _element("Error", root, Key=name, Code=error.code, Message=error.message)
        return _xml(root)

    # -- multipart uploads ------------------------------------------------------------------------------------------

    def _upload(self, request: Request, bucket: str, key: str) -> tuple[str, dict]:
        """The directory and the description of the multipart upload named by ?uploadId= for this bucket and key."""
        upload_id = request.args.get("uploadId", "")
        folder = os.path.join(self.root, ".uploads", upload_id)
        try:
            with open(os.path.join(folder, "upload.json")) as f:
                upload = json.load(f)
        except (OSError, ValueError):
            upload = {}
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id) or (upload.get("bucket"), upload.get("key")) != (bucket, key):
            raise AwsError("NoSuchUpload", "The specified multipart upload does not exist.", 404)
        return folder, upload

    def _create_multipart_upload(self, request: Request, bucket: str, key: str) -> Response:
        self._object_path(bucket, key)
        upload_id = uuid.uuid4().hex
        folder = os.path.join(self.root, ".uploads", upload_id)
        os.makedirs(folder)
        with open(os.path.join(folder, "upload.json"), "w") as f:
            json.dump({"bucket": bucket, "key": key,
                       "content_type": request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE}, f)
        return _xml(_element("InitiateMultipartUploadResult", Bucket=bucket, Key=key, UploadId=upload_id))

    def _upload_part(self, request: Request, bucket: str, key: str) -> Response:
        folder, _ = self._upload(request, bucket, key)
        number = request.args.get("partNumber", "")
        if not number.isdigit() or not 1 <= int(number) <= 10000:
            raise AwsError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        staged, etag = self._stage([self._body(request)])
        try:
            os.replace(staged, os.path.join(folder, f"{int(number):05d}"))
        except FileNotFoundError as error:  # aborted meanwhile
            os.remove(staged)
            raise AwsError("NoSuchUpload", "The specified multipart upload does not exist.", 404) from error
        return Response(status=200, headers={"ETag": f'"{etag}"'})

    def _complete_multipart_upload(self, request: Request, bucket: str, key: str) -> Response:
        folder, upload = self._upload(request, bucket, key)
        try:
            document = ET.fromstring(request.get_data())
            parts = [(int(_text(part, "PartNumber")), _text(part, "ETag").strip('"'))
                     for part in _children(document, "Part")]
        except (ET.ParseError, ValueError) as error:
            raise AwsError("MalformedXML", f"The XML you provided was not well-formed: {error}") from error
        numbers = [number for number, _ in parts]
        if not parts or numbers != sorted(set(numbers)):
            raise AwsError("InvalidPartOrder", "The list of parts was not in ascending order.")
        files = [os.path.join(folder, f"{number:05d}") for number in numbers]
        if not all(os.path.isfile(file) for file in files):
            raise AwsError("InvalidPart", "One or more of the specified parts could not be found.")
        if any(os.path.getsize(file) < MIN_PART_SIZE for file in files[:-1]):
            raise AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.")
        digests: list[str] = []

        def chunks() -> Iterator[bytes]:
            for file in files:
                digest = hashlib.md5()
                with open(file, "rb") as f:
                    for chunk in iter(lambda: f.read(CHUNK), b""):
                        digest.update(chunk)
                        yield chunk
                digests.append(digest.hexdigest())

        staged, _ = self._stage(chunks())
        if digests != [etag for _, etag in parts]:
            os.remove(staged)
            raise AwsError("InvalidPart", "One or more of the specified parts could not be found.")
        etag = hashlib.md5(b"".join(bytes.fromhex(d) for d in digests)).hexdigest() + f"-{len(digests)}"
        self._publish(bucket, key, staged, etag, upload["content_type"], conditions=request)
        shutil.rmtree(folder, ignore_errors=True)
        return _xml(_element("CompleteMultipartUploadResult", Location=f"{request.host_url}{bucket}/{quote(key)}",
                             Bucket=bucket, Key=key, ETag=f'"{etag}"'))

    def _abort_multipart_upload(self, request: Request, bucket: str, key: str) -> Response:
        shutil.rmtree(self._upload(request, bucket, key)[0])
        return Response(status=204)
