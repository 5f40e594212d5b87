/**
 * Test certificates made by `openssl` in a temporary directory: a CA, and a
 * separate leaf certificate for `localhost` and `127.0.0.1` signed by it
 * (Deno's TLS refuses a self-signed certificate used as its own CA).
 * `renew` signs a second leaf with another key, to tell a reloaded
 * certificate from the first.
 */

/** A CA and a server certificate signed by it, as files and PEM text. */
export interface TestCertificates extends AsyncDisposable {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** The CA's certificate, for `Deno.connectTls({ caCerts })`. */
  caPem: string;
  /** Signs a new leaf (new key, new serial) into `certFile` and `keyFile`; returns its PEM. */
  renew(): Promise<string>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const result = await new Deno.Command("openssl", { args, cwd: dir, stderr: "piped" }).output();
  if (!result.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(result.stderr)}`);
  }
}

/** Makes a CA and a leaf certificate for `localhost` in a new temporary directory. */
export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await Deno.makeTempDir({ prefix: "chat-certs-" });
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=chat test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await Deno.writeTextFile(
    `${dir}/leaf.ext`,
    "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  const renew = async () => {
    await openssl(dir, [
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-keyout",
      "tls.key",
      "-out",
      "tls.csr",
    ]);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      "tls.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      "leaf.ext",
      "-out",
      "tls.crt",
    ]);
    return await Deno.readTextFile(`${dir}/tls.crt`);
  };
  await renew();
  return {
    dir,
    caFile: `${dir}/ca.crt`,
    certFile: `${dir}/tls.crt`,
    keyFile: `${dir}/tls.key`,
    caPem: await Deno.readTextFile(`${dir}/ca.crt`),
    renew,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}
