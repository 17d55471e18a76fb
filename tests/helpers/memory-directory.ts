/**
 * An in-memory stand-in for the File System Access API's FileSystemDirectoryHandle (OPFS or a
 * picked folder), with just what the snapshot store uses. A writable commits on close only, like
 * the browser's; `failWrites` makes every write fail (a full disk).
 */
type Entry = MemoryDirectory | MemoryFile;

class MemoryFile {
  readonly kind = 'file';
  constructor(
    readonly name: string,
    public data: Blob = new Blob([]),
    private readonly root: { failWrites: boolean },
  ) {}
  async getFile(): Promise<File> {
    return new File([this.data], this.name);
  }
  async createWritable() {
    const parts: BlobPart[] = [];
    return {
      write: async (part: BlobPart) => {
        if (this.root.failWrites) throw new DOMException('The disk is full.', 'QuotaExceededError');
        parts.push(part);
      },
      close: async () => {
        this.data = new Blob(parts);
      },
      abort: async () => undefined,
    };
  }
}

export class MemoryDirectory {
  readonly kind = 'directory';
  readonly entries = new Map<string, Entry>();
  constructor(
    readonly name = '',
    readonly root: { failWrites: boolean } = { failWrites: false },
  ) {}

  async getDirectoryHandle(name: string, options?: { create?: boolean }) {
    let entry = this.entries.get(name);
    if (!entry && options?.create) {
      entry = new MemoryDirectory(name, this.root);
      this.entries.set(name, entry);
    }
    if (!(entry instanceof MemoryDirectory)) throw new DOMException(name, 'NotFoundError');
    return entry;
  }
  async getFileHandle(name: string, options?: { create?: boolean }) {
    let entry = this.entries.get(name);
    if (!entry && options?.create) {
      entry = new MemoryFile(name, undefined, this.root);
      this.entries.set(name, entry);
    }
    if (!(entry instanceof MemoryFile)) throw new DOMException(name, 'NotFoundError');
    return entry;
  }
  async removeEntry(name: string) {
    if (!this.entries.delete(name)) throw new DOMException(name, 'NotFoundError');
  }
  async *keys() {
    yield* [...this.entries.keys()];
  }
  /** Every file path below this directory, sorted. */
  paths(prefix = ''): string[] {
    return [...this.entries.values()]
      .flatMap((e) =>
        e instanceof MemoryDirectory ? e.paths(`${prefix}${e.name}/`) : [prefix + e.name],
      )
      .sort();
  }
  asHandle(): FileSystemDirectoryHandle {
    return this as unknown as FileSystemDirectoryHandle;
  }
}
