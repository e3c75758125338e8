<?php
// devbox's PHP buildpack: what an app's composer.json (and Cloud Foundry's .bp-config/options.json)
// ask of the machine, read with the host's php itself.
// Usage: php app-info.php BUILD_DIR   → lines of NAME='value' for bash to eval:
//   APP_INFO_ERROR    composer.json is not valid JSON (why), or ''
//   PHP_WANTED        the PHP version the app asks for (composer.json's require.php, else
//                     options.json's PHP_VERSION), or ''
//   PHP_WANTED_SOURCE where it says so
//   PHP_CHECK         ok | exact (an exact version the host's is not) | unsatisfied | unknown
//   EXT_MISSING       the PHP extensions composer.json requires (ext-NAME) that the host's php lacks
//   EXT_PACKAGES      the Debian packages that have them (php-NAME)
//   PACKAGES          the Composer packages composer.json requires (what `composer install` installs)
//
// A Composer constraint is read as Composer reads it (`^8.1`, `~8.1`, `>=8.1 <9`, `8.1.*`, `||`,
// `A - B`), with one exception: a bare `8.1` is the 8.1 line here (Composer would want 8.1.0), and
// only a full X.Y.Z is an exact version.

$dir = $argv[1] ?? '.';
$host = PHP_MAJOR_VERSION . '.' . PHP_MINOR_VERSION . '.' . PHP_RELEASE_VERSION;
$out = ['APP_INFO_ERROR' => '', 'PHP_WANTED' => '', 'PHP_WANTED_SOURCE' => '', 'PHP_CHECK' => 'ok', 'EXT_MISSING' => '', 'EXT_PACKAGES' => '', 'PACKAGES' => ''];

/** A version padded to three parts (8.1 → 8.1.0), without a leading v and stability suffixes. */
function normal(string $v): ?string
{
    $v = preg_replace('/@\w+$/', '', trim($v));
    $v = ltrim($v, 'vV');
    if (!preg_match('/^(\d+)(?:\.(\d+))?(?:\.(\d+))?/', $v, $m)) return null;
    return ($m[1] ?? '0') . '.' . ($m[2] ?? '0') . '.' . ($m[3] ?? '0');
}

/** Whether $host satisfies one Composer constraint atom; null when it is not one devbox reads. */
function atom(string $host, string $atom): ?bool
{
    $atom = preg_replace('/@\w+$/', '', trim($atom));
    if ($atom === '' || $atom === '*' || $atom === 'x') return true;
    if (preg_match('/^(\d+)(?:\.(\d+))?\.[*x]$/', $atom, $m)) {
        $lo = $m[1] . '.' . ($m[2] ?? '0') . '.0';
        $hi = isset($m[2]) ? $m[1] . '.' . ($m[2] + 1) . '.0' : ($m[1] + 1) . '.0.0';
        return version_compare($host, $lo, '>=') && version_compare($host, $hi, '<');
    }
    if (preg_match('/^\^(.+)$/', $atom, $m)) {
        $v = normal($m[1]);
        if ($v === null) return null;
        [$a, $b] = array_map('intval', explode('.', $v));
        $hi = $a > 0 ? ($a + 1) . '.0.0' : '0.' . ($b + 1) . '.0';
        return version_compare($host, $v, '>=') && version_compare($host, $hi, '<');
    }
    if (preg_match('/^~(.+)$/', $atom, $m)) {
        $parts = explode('.', ltrim($m[1], 'vV'));
        $v = normal($m[1]);
        if ($v === null) return null;
        [$a, $b] = array_map('intval', explode('.', $v));
        $hi = count($parts) <= 2 ? ($a + 1) . '.0.0' : $a . '.' . ($b + 1) . '.0';
        return version_compare($host, $v, '>=') && version_compare($host, $hi, '<');
    }
    if (preg_match('/^(>=|<=|!=|<>|==|=|>|<)(.+)$/', $atom, $m)) {
        $v = normal($m[2]);
        if ($v === null) return null;
        $op = ['=' => '==', '<>' => '!='][$m[1]] ?? $m[1];
        return version_compare($host, $v, $op);
    }
    if (preg_match('/^\d+\.\d+\.\d+$/', $atom)) return version_compare($host, $atom, '==');
    if (preg_match('/^(\d+)(?:\.(\d+))?$/', $atom, $m)) return atom($host, isset($m[2]) ? "$m[1].$m[2].*" : "$m[1].*");
    return null;
}

/** Whether $host satisfies a whole Composer constraint; null when devbox cannot read it. */
function satisfies(string $host, string $constraint): ?bool
{
    $any = false;
    foreach (preg_split('/\s*\|\|?\s*/', trim($constraint)) as $alternative) {
        if (preg_match('/^(\S+)\s+-\s+(\S+)$/', $alternative, $m)) $alternative = ">=$m[1] <=$m[2]";
        $alternative = preg_replace('/(>=|<=|!=|<>|==|=|>|<|\^|~)\s+/', '$1', $alternative);
        $all = true;
        foreach (preg_split('/\s*,\s*|\s+/', trim($alternative)) as $part) {
            $ok = atom($host, $part);
            if ($ok === null) return null;
            $all = $all && $ok;
        }
        $any = $any || $all;
    }
    return $any;
}

$composer = null;
$file = "$dir/composer.json";
if (is_file($file)) {
    $composer = json_decode((string) file_get_contents($file), true);
    if (!is_array($composer)) $out['APP_INFO_ERROR'] = 'composer.json is not valid JSON: ' . json_last_error_msg();
}
$require = is_array($composer['require'] ?? null) ? $composer['require'] : [];

$options = null;
if (is_file("$dir/.bp-config/options.json")) $options = json_decode((string) file_get_contents("$dir/.bp-config/options.json"), true);

if (is_string($require['php'] ?? null) && trim($require['php']) !== '') {
    $out['PHP_WANTED'] = trim($require['php']);
    $out['PHP_WANTED_SOURCE'] = 'require.php in composer.json';
    $exact = preg_match('/^=?=?\s*v?(\d+\.\d+\.\d+)$/', $out['PHP_WANTED'], $m);
    $ok = satisfies($host, $out['PHP_WANTED']);
    $out['PHP_CHECK'] = $ok === null ? 'unknown' : ($ok ? 'ok' : ($exact ? 'exact' : 'unsatisfied'));
} elseif (is_array($options) && is_string($options['PHP_VERSION'] ?? null) && trim($options['PHP_VERSION']) !== '') {
    // Cloud Foundry's php buildpack: 8.2.10, 8.2.x, {PHP_82_LATEST}.
    $wanted = trim($options['PHP_VERSION']);
    $out['PHP_WANTED'] = $wanted;
    $out['PHP_WANTED_SOURCE'] = 'PHP_VERSION in .bp-config/options.json';
    if (preg_match('/^\{PHP_(\d)(\d+)_LATEST\}$/', $wanted, $m)) $wanted = "$m[1].$m[2].*";
    if (preg_match('/^\d+\.\d+\.\d+$/', $wanted)) $out['PHP_CHECK'] = $wanted === $host ? 'ok' : 'exact';
    else {
        $ok = satisfies($host, $wanted);
        $out['PHP_CHECK'] = $ok === null ? 'unknown' : ($ok ? 'ok' : 'unsatisfied');
    }
}

// Extensions: the Debian package is php-NAME, for the common ones under another name.
$debian = ['pdo_mysql' => 'php-mysql', 'mysqli' => 'php-mysql', 'mysqlnd' => 'php-mysql', 'pdo_pgsql' => 'php-pgsql', 'pgsql' => 'php-pgsql', 'pdo_sqlite' => 'php-sqlite3', 'sqlite3' => 'php-sqlite3', 'dom' => 'php-xml', 'simplexml' => 'php-xml', 'xmlreader' => 'php-xml', 'xmlwriter' => 'php-xml', 'xsl' => 'php-xml', 'xml' => 'php-xml'];
$missing = [];
$packages = [];
foreach (array_keys($require) as $name) {
    $name = (string) $name;
    if (preg_match('/^ext-(.+)$/i', $name, $m)) {
        $ext = strtolower($m[1]);
        if (!extension_loaded($ext) && !extension_loaded(str_replace('-', '_', $ext))) {
            $missing[] = $ext;
            $packages[] = $debian[$ext] ?? 'php-' . str_replace('_', '-', $ext);
        }
    } elseif (!preg_match('/^(php(-64bit|-ipv6|-zts|-debug)?|hhvm|lib-.+|composer(-plugin|-runtime)?-api)$/i', $name)) {
        $packages_composer[] = $name;
    }
}
$out['EXT_MISSING'] = implode(' ', $missing);
$out['EXT_PACKAGES'] = implode(' ', array_values(array_unique($packages)));
$out['PACKAGES'] = implode(' ', $packages_composer ?? []);

foreach ($out as $key => $value) echo $key, '=', escapeshellarg((string) $value), "\n";
