// devbox's java buildpack: what kind of Java app a build directory holds, read without a JDK (the
// host may have only a JRE, which has no `jar` tool): jars are read as zip files here.
// Usage: node java-app.mjs BUILD_DIR [--shell]   → one line of JSON (--shell: JAVA_APP_<FIELD>='...'
// lines for bash to eval, lists space-separated, null as ''):
//   layout       'exploded' (cf push -p app.jar uploads the jar's contents: META-INF/MANIFEST.MF with
//                Main-Class), 'jar' (a runnable .jar in the app: at its root, or target/ and
//                build/libs/ next to a pom.xml or build.gradle), 'source' (a pom.xml or build.gradle
//                and no built jar), or 'none'
//   jar          the jar to run (layout 'jar'), relative to BUILD_DIR
//   build_tool   'Maven' or 'Gradle' when the app has a pom.xml or build.gradle
//   main_class, start_class (Spring Boot's), spring_boot, class_path (the manifest's Class-Path)
//   app_classes  the .class and .groovy files of the app, those inside its jars included (as Cloud
//                Foundry's java buildpack counts them for its memory calculator)
//   class_major  the class file version of the app's own main class (Start-Class for Spring Boot)
//   problem      why nothing can be run (several runnable jars, a jar without Main-Class), or null
import { Buffer } from 'node:buffer';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import zlib from 'node:zlib';

const MAX_ARCHIVE = 1024 * 1024 * 1024;

/** The entries of a zip file (central directory), or [] when it is not one this reader knows. */
function zipEntries(buf) {
  try {
    return readCentralDirectory(buf);
  } catch {
    return [];
  }
}

function readCentralDirectory(buf) {
  const minEnd = Math.max(0, buf.length - 65_557);
  let end = -1;
  for (let i = buf.length - 22; i >= minEnd; i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) return [];
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const entries = [];
  for (let n = 0; n < count && at + 46 <= buf.length; n++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) break;
    const nameLength = buf.readUInt16LE(at + 28);
    entries.push({
      name: buf.toString('utf8', at + 46, at + 46 + nameLength),
      method: buf.readUInt16LE(at + 10),
      compressed: buf.readUInt32LE(at + 20),
      offset: buf.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
  }
  return entries;
}

/** One entry's bytes (stored or deflated), or null. */
function entryData(buf, entry) {
  const local = entry.offset;
  if (local + 30 > buf.length || buf.readUInt32LE(local) !== 0x04034b50) return null;
  const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
  const data = buf.subarray(start, start + entry.compressed);
  try {
    if (entry.method === 0) return data;
    if (entry.method === 8) return zlib.inflateRawSync(data);
  } catch {
    // a broken entry is no entry
  }
  return null;
}

/** A manifest's main attributes (continuation lines start with one space). */
function parseManifest(text) {
  const attributes = {};
  let last = null;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (line.startsWith(' ') && last) {
      attributes[last] += line.slice(1);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim();
    attributes[last] = line.slice(colon + 1).trim();
  }
  return attributes;
}

const isClass = (name) => name.endsWith('.class') || name.endsWith('.groovy');

/** Classes in a jar's bytes, those of the jars nested in it (Spring Boot's BOOT-INF/lib) included. */
function jarClassCount(buf, depth = 0) {
  let count = 0;
  for (const entry of zipEntries(buf)) {
    if (isClass(entry.name)) count++;
    else if (depth < 2 && entry.name.endsWith('.jar')) {
      const nested = entryData(buf, entry);
      if (nested) count += jarClassCount(nested, depth + 1);
    }
  }
  return count;
}

function readArchive(file) {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile() || stat.size > MAX_ARCHIVE) return null;
    return fs.readFileSync(file);
  } catch {
    return null;
  }
}

/** Classes under a directory: class files, and the classes in its jars. */
function directoryClassCount(dir) {
  let count = 0;
  const walk = (at, depth) => {
    let entries;
    try {
      entries = fs.readdirSync(at, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) {
        if (depth < 64 && !(depth === 0 && entry.name === '.java-buildpack')) walk(full, depth + 1);
      } else if (entry.isFile()) {
        if (isClass(entry.name)) count++;
        else if (entry.name.endsWith('.jar')) {
          const buf = readArchive(full);
          if (buf) count += jarClassCount(buf, 1);
        }
      }
    }
  };
  walk(dir, 0);
  return count;
}

/** The class file version of a class's bytes (52 = Java 8, 61 = Java 17), or null. */
const classMajor = (bytes) => (bytes && bytes.length >= 8 && bytes.readUInt32BE(0) === 0xcafebabe ? bytes.readUInt16BE(6) : null);

const classFile = (className) => `${className.replace(/\./g, '/')}.class`;

const SPRING_BOOT_LAUNCHER = /^org\.springframework\.boot\.loader\.(launch\.)?(JarLauncher|WarLauncher|PropertiesLauncher)$/;

function describe(manifest, readEntry) {
  const mainClass = manifest['Main-Class'] || null;
  const startClass = manifest['Start-Class'] || null;
  const springBoot = Boolean(mainClass && SPRING_BOOT_LAUNCHER.test(mainClass));
  const own = springBoot && startClass ? readEntry(`BOOT-INF/classes/${classFile(startClass)}`) ?? readEntry(`WEB-INF/classes/${classFile(startClass)}`) : mainClass ? readEntry(classFile(mainClass)) : null;
  return {
    main_class: mainClass,
    start_class: startClass,
    spring_boot: springBoot,
    class_path: (manifest['Class-Path'] || '').split(/\s+/).filter((p) => p !== '' && !/^[a-z]+:/i.test(p)),
    class_major: classMajor(own),
  };
}

function readFile(file) {
  try {
    return fs.statSync(file).isFile() ? fs.readFileSync(file) : null;
  } catch {
    return null;
  }
}

function inspect(dir) {
  const exists = (p) => fs.existsSync(path.join(dir, p));
  const buildTool = exists('pom.xml') ? 'Maven' : exists('build.gradle') || exists('build.gradle.kts') ? 'Gradle' : null;
  const result = { layout: 'none', jar: null, build_tool: buildTool, main_class: null, start_class: null, spring_boot: false, class_path: [], app_classes: 0, class_major: null, problem: null };

  const manifestText = readFile(path.join(dir, 'META-INF', 'MANIFEST.MF'));
  const exploded = manifestText ? parseManifest(manifestText.toString('utf8')) : null;
  if (exploded && exploded['Main-Class']) {
    return { ...result, layout: 'exploded', ...describe(exploded, (name) => readFile(path.join(dir, name))), app_classes: directoryClassCount(dir) };
  }

  // Jars: at the root, then where Maven and Gradle put what they build.
  const places = ['.'];
  if (buildTool === 'Maven') places.push('target');
  if (buildTool === 'Gradle') places.push(path.join('build', 'libs'));
  const runnable = [];
  const others = [];
  for (const place of places) {
    let names;
    try {
      names = fs.readdirSync(path.join(dir, place)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.endsWith('.jar') || /-(sources|javadoc|tests|plain)\.jar$/.test(name)) continue;
      const relative = place === '.' ? name : path.join(place, name);
      const buf = readArchive(path.join(dir, relative));
      if (!buf) continue;
      const entries = zipEntries(buf);
      const entry = entries.find((e) => e.name === 'META-INF/MANIFEST.MF');
      const manifest = entry ? parseManifest((entryData(buf, entry) ?? Buffer.alloc(0)).toString('utf8')) : {};
      if (!manifest['Main-Class']) {
        others.push(relative);
        continue;
      }
      const byName = new Map(entries.map((e) => [e.name, e]));
      runnable.push({ jar: relative, ...describe(manifest, (name) => (byName.has(name) ? entryData(buf, byName.get(name)) : null)), app_classes: jarClassCount(buf) });
    }
    if (runnable.length > 0) break;
  }
  if (runnable.length === 1) return { ...result, layout: 'jar', ...runnable[0] };
  if (runnable.length > 1) return { ...result, layout: 'jar', problem: `the app has several runnable jars (${runnable.map((r) => r.jar).join(', ')}): push the one to run (cf push -p app.jar), or give the command with -c` };
  if (others.length > 0) {
    return { ...result, layout: 'jar', problem: `${others.join(', ')} ${others.length > 1 ? 'have' : 'has'} no Main-Class in META-INF/MANIFEST.MF: build a runnable jar, or give the command with -c (e.g. -c 'java -cp ${others[0]} com.example.Main')` };
  }
  if (buildTool) return { ...result, layout: 'source' };
  return result;
}

/** The same as shell assignments (JAVA_APP_LAYOUT='exploded' ...), for bin/compile to eval. */
const shellQuote = (value) => `'${String(value ?? '').replace(/'/g, "'\\''")}'`;
const toShell = (info) =>
  Object.entries(info)
    .map(([key, value]) => `JAVA_APP_${key.toUpperCase()}=${shellQuote(Array.isArray(value) ? value.join(' ') : value)}\n`)
    .join('');

const [dir, format] = process.argv.slice(2);
if (!dir || (format !== undefined && format !== '--shell')) {
  process.stderr.write('usage: node java-app.mjs BUILD_DIR [--shell]\n');
  process.exit(2);
}
const info = inspect(path.resolve(dir));
process.stdout.write(format === '--shell' ? toShell(info) : `${JSON.stringify(info)}\n`);
