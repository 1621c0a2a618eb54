package dev.gluers.sim;

import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.BufferedFSInputStream;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FSInputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PathIsNotEmptyDirectoryException;
import org.apache.hadoop.fs.permission.FsPermission;
import org.apache.hadoop.security.UserGroupInformation;
import org.apache.hadoop.util.Progressable;

/**
 * Test stand-in for S3 storage in the Glue simulator: a Hadoop FileSystem serving s3://, s3a:// and s3n:// by
 * keeping the object s3://BUCKET/KEY in the local file ROOT/BUCKET/KEY, where ROOT is the Hadoop setting
 * {@value #ROOT_KEY}. The simulator's S3 REST API (gluesim/s3.py) serves the same tree, so Spark and S3 clients
 * see one storage.
 *
 * <p>Every path it hands out stays in the s3://BUCKET/... form. It extends FileSystem directly rather than wrapping
 * RawLocalFileSystem: that class qualifies the paths it returns with its own file:/// URI and forks shell commands
 * for permissions when Hadoop's native library is absent; here statuses come from java.nio and no .crc files are
 * written. Like S3A, a written file becomes visible only when its stream is closed (it is written under ROOT/.tmp
 * and moved into place), append is unsupported, the bucket must already exist for writes, and deleting a bucket's
 * root deletes nothing.
 */
public class LocalS3FileSystem extends FileSystem {
  /** The Hadoop configuration key of the storage root (Spark: spark.hadoop.fs.gluesim.root). */
  public static final String ROOT_KEY = "fs.gluesim.root";

  private URI uri;
  private java.nio.file.Path bucketDir;
  private java.nio.file.Path tmpDir;
  private Path workingDir;
  private String user;
  private long blockSize;

  @Override
  public void initialize(URI name, Configuration conf) throws IOException {
    super.initialize(name, conf);
    setConf(conf);
    String root = conf.get(ROOT_KEY);
    if (root == null || root.isEmpty()) {
      throw new IOException(ROOT_KEY + " is not set: it names the local directory that holds the buckets");
    }
    String bucket = name.getAuthority();
    if (bucket == null || bucket.isEmpty() || bucket.startsWith(".")) {
      throw new IOException("Not an S3 bucket URI: " + name);
    }
    uri = URI.create(name.getScheme() + "://" + bucket);
    bucketDir = Paths.get(root, bucket).toAbsolutePath().normalize();
    tmpDir = Paths.get(root, ".tmp").toAbsolutePath();
    workingDir = new Path(uri.getScheme(), bucket, "/");
    user = UserGroupInformation.getCurrentUser().getShortUserName();
    blockSize = conf.getLongBytes("fs.s3a.block.size", 32L << 20);  // the block size S3A reports
  }

  @Override
  public String getScheme() {
    return uri.getScheme();
  }

  @Override
  public long getDefaultBlockSize(Path path) {
    return blockSize;
  }

  @Override
  public URI getUri() {
    return uri;
  }

  @Override
  public Path getWorkingDirectory() {
    return workingDir;
  }

  @Override
  public void setWorkingDirectory(Path dir) {
    workingDir = makeQualified(dir);
  }

  /** The local file of an s3:// path of this bucket (relative paths resolve against the working directory). */
  private java.nio.file.Path local(Path path) throws IOException {
    String key = makeQualified(path).toUri().getPath().replaceFirst("^/+", "");
    java.nio.file.Path file = bucketDir.resolve(key).normalize();
    if (!file.startsWith(bucketDir)) {
      throw new IOException("Path escapes its bucket: " + path);
    }
    return file;
  }

  /** The s3:// path of a local file under this bucket. */
  private Path remote(java.nio.file.Path file) {
    String key = bucketDir.relativize(file).toString().replace(File.separatorChar, '/');
    return new Path(uri.getScheme(), uri.getAuthority(), "/" + key);
  }

  private FileStatus status(java.nio.file.Path file) throws IOException {
    BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class);
    boolean dir = attrs.isDirectory();
    return new FileStatus(dir ? 0 : attrs.size(), dir, 1, dir ? 0 : blockSize,
        attrs.lastModifiedTime().toMillis(), attrs.lastAccessTime().toMillis(),
        dir ? FsPermission.getDirDefault() : FsPermission.getFileDefault(), user, user, remote(file));
  }

  private void requireBucket() throws IOException {
    if (!Files.isDirectory(bucketDir)) {
      throw new FileNotFoundException("The bucket does not exist: " + uri);
    }
  }

  @Override
  public FileStatus getFileStatus(Path path) throws IOException {
    java.nio.file.Path file = local(path);
    try {
      if (Files.exists(file)) {
        return status(file);
      }
    } catch (NoSuchFileException e) {
      // Deleted between the two calls: report it as missing below.
    }
    throw new FileNotFoundException("No such file or directory: " + makeQualified(path));
  }

  @Override
  public FileStatus[] listStatus(Path path) throws IOException {
    FileStatus self = getFileStatus(path);
    if (!self.isDirectory()) {
      return new FileStatus[] {self};
    }
    List<FileStatus> children = new ArrayList<>();
    try (DirectoryStream<java.nio.file.Path> entries = Files.newDirectoryStream(local(path))) {
      for (java.nio.file.Path entry : entries) {
        try {
          children.add(status(entry));
        } catch (NoSuchFileException e) {
          // Deleted while listing: it is simply not listed.
        }
      }
    }
    children.sort(Comparator.naturalOrder());
    return children.toArray(new FileStatus[0]);
  }

  @Override
  public boolean mkdirs(Path path, FsPermission permission) throws IOException {
    requireBucket();
    java.nio.file.Path dir = local(path);
    if (Files.exists(dir) && !Files.isDirectory(dir)) {
      throw new FileAlreadyExistsException("Not a directory: " + makeQualified(path));
    }
    Files.createDirectories(dir);
    return true;
  }

  @Override
  public FSDataInputStream open(Path path, int bufferSize) throws IOException {
    if (getFileStatus(path).isDirectory()) {
      throw new FileNotFoundException("Cannot open a directory: " + makeQualified(path));
    }
    return new FSDataInputStream(new BufferedFSInputStream(new LocalInput(local(path).toFile()), bufferSize));
  }

  @Override
  public FSDataOutputStream create(Path path, FsPermission permission, boolean overwrite, int bufferSize,
      short replication, long blockSize, Progressable progress) throws IOException {
    java.nio.file.Path file = local(path);
    if (Files.isDirectory(file)) {
      throw new FileAlreadyExistsException("A directory exists at " + makeQualified(path));
    }
    if (!overwrite && Files.exists(file)) {
      throw new FileAlreadyExistsException("File already exists: " + makeQualified(path));
    }
    requireBucket();
    Files.createDirectories(file.getParent());
    Files.createDirectories(tmpDir);
    java.nio.file.Path staged = Files.createTempFile(tmpDir, "hadoop-", ".part");
    return new FSDataOutputStream(new PublishOnClose(staged, file, bufferSize), statistics);
  }

  @Override
  public FSDataOutputStream createNonRecursive(Path path, FsPermission permission, boolean overwrite,
      int bufferSize, short replication, long blockSize, Progressable progress) throws IOException {
    Path parent = makeQualified(path).getParent();
    if (parent != null && !getFileStatus(parent).isDirectory()) {
      throw new FileAlreadyExistsException("Parent is a file: " + parent);
    }
    return create(path, permission, overwrite, bufferSize, replication, blockSize, progress);
  }

  @Override
  public FSDataOutputStream append(Path path, int bufferSize, Progressable progress) {
    throw new UnsupportedOperationException("S3 objects cannot be appended to: " + path);
  }

  /** Hadoop rename: into dst when dst is a directory; false when the source is missing or the target exists. */
  @Override
  public boolean rename(Path src, Path dst) throws IOException {
    java.nio.file.Path from = local(src);
    java.nio.file.Path to = local(dst);
    if (!Files.exists(from) || from.equals(bucketDir)) {
      return false;
    }
    if (Files.isDirectory(to)) {
      to = to.resolve(from.getFileName());
    }
    if (Files.exists(to) || to.startsWith(from)) {
      return false;
    }
    requireBucket();
    Files.createDirectories(to.getParent());
    Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    return true;
  }

  @Override
  public boolean delete(Path path, boolean recursive) throws IOException {
    java.nio.file.Path file = local(path);
    if (!Files.exists(file) || file.equals(bucketDir)) {
      return false;
    }
    if (!Files.isDirectory(file)) {
      return Files.deleteIfExists(file);
    }
    List<java.nio.file.Path> tree;
    try (Stream<java.nio.file.Path> walk = Files.walk(file)) {
      tree = walk.sorted(Comparator.reverseOrder()).collect(Collectors.toList());
    }
    if (tree.size() > 1 && !recursive) {
      throw new PathIsNotEmptyDirectoryException(makeQualified(path).toString());
    }
    for (java.nio.file.Path entry : tree) {
      Files.deleteIfExists(entry);
    }
    return true;
  }

  /** A seekable reader of a local file that counts the bytes it reads in this file system's statistics. */
  private final class LocalInput extends FSInputStream {
    private final RandomAccessFile file;

    LocalInput(File file) throws IOException {
      this.file = new RandomAccessFile(file, "r");
    }

    @Override
    public void seek(long pos) throws IOException {
      file.seek(pos);
    }

    @Override
    public long getPos() throws IOException {
      return file.getFilePointer();
    }

    @Override
    public boolean seekToNewSource(long targetPos) {
      return false;
    }

    @Override
    public int read() throws IOException {
      int b = file.read();
      if (b >= 0) {
        statistics.incrementBytesRead(1);
      }
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      int n = file.read(buffer, offset, length);
      if (n > 0) {
        statistics.incrementBytesRead(n);
      }
      return n;
    }

    @Override
    public int available() throws IOException {
      return (int) Math.min(Integer.MAX_VALUE, file.length() - file.getFilePointer());
    }

    @Override
    public void close() throws IOException {
      file.close();
    }
  }

  /** Writes to a staging file and moves it over the target on close, as an S3 upload completes on close. */
  private static final class PublishOnClose extends BufferedOutputStream {
    private final java.nio.file.Path staged;
    private final java.nio.file.Path target;
    private boolean closed;

    PublishOnClose(java.nio.file.Path staged, java.nio.file.Path target, int bufferSize) throws IOException {
      super(Files.newOutputStream(staged), Math.max(bufferSize, 8192));
      this.staged = staged;
      this.target = target;
    }

    @Override
    public void close() throws IOException {
      if (closed) {
        return;
      }
      closed = true;
      try {
        super.close();
        Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(staged);
      }
    }
  }
}
