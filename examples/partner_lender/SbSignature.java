import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checks funding's sb-signature on a partner-topic record (docs/decisions/0013): the JDK only
 * (Ed25519 since Java 15), no JSON library. Use {@link #fundingKey} once and {@link #verify}
 * on every record, e.g. with a KafkaConsumer (docs/partners.md):
 *
 * <pre>
 * Map&lt;String, byte[]&gt; headers = new HashMap&lt;&gt;();
 * for (Header h : record.headers()) headers.put(h.key(), h.value());
 * if (!SbSignature.verify(key, headers, record.value())) continue; // never act on it
 * </pre>
 *
 * As a program, to check one record saved as two files:
 * {@code java SbSignature.java <public_key> <headers file: name TAB value lines> <value file>}.
 */
public final class SbSignature {
    // JCS member name -> Kafka header; TreeMap: JCS orders these ASCII names as a plain sort.
    private static final Map<String, String> ATTRIBUTES = new TreeMap<>(Map.of(
        "id", "ce_id", "source", "ce_source", "type", "ce_type", "time", "ce_time",
        "subject", "ce_subject", "datacontenttype", "content-type", "specversion", "ce_specversion"));

    /** funding's key: the base64url `public_key` of GET /.well-known/event-signing-key. */
    public static PublicKey fundingKey(String publicKey) throws Exception {
        byte[] raw = Base64.getUrlDecoder().decode(publicKey);
        byte[] spki = new byte[44]; // X.509 SubjectPublicKeyInfo for Ed25519: 12-byte prefix + key
        System.arraycopy(new byte[] {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}, 0, spki, 0, 12);
        System.arraycopy(raw, 0, spki, 12, 32);
        return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
    }

    /** headers: the record's headers (name -> value bytes); value: the record value. */
    public static boolean verify(PublicKey key, Map<String, byte[]> headers, byte[] value) {
        try {
            byte[] header = headers.get("sb-signature");
            if (header == null) return false;
            String[] parts = new String(header, StandardCharsets.UTF_8).split(";");
            String sig = null, kid = null;
            for (int i = 1; i < parts.length; i++) {
                if (parts[i].startsWith("kid=")) kid = parts[i].substring(4);
                if (parts[i].startsWith("sig=")) sig = parts[i].substring(4);
            }
            if (!"ed25519".equals(parts[0]) || !"funding".equals(kid) || sig == null) return false;
            TreeMap<String, String> document = new TreeMap<>();
            for (Map.Entry<String, String> a : ATTRIBUTES.entrySet()) {
                byte[] v = headers.get(a.getValue());
                document.put(a.getKey(), v == null ? null : new String(v, StandardCharsets.UTF_8));
            }
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(value);
            document.put("data_sha256", Base64.getUrlEncoder().withoutPadding().encodeToString(digest));
            Signature verifier = Signature.getInstance("Ed25519");
            verifier.initVerify(key);
            verifier.update(canonical(document).getBytes(StandardCharsets.UTF_8));
            return verifier.verify(Base64.getUrlDecoder().decode(sig));
        } catch (Exception e) { // malformed base64, a bad key: not funding's record
            return false;
        }
    }

    /** RFC 8785 (JCS) of a flat object of strings and nulls with ASCII member names. */
    static String canonical(TreeMap<String, String> document) {
        StringBuilder out = new StringBuilder("{");
        for (Map.Entry<String, String> e : document.entrySet()) {
            if (out.length() > 1) out.append(',');
            quote(out, e.getKey());
            out.append(':');
            if (e.getValue() == null) out.append("null"); else quote(out, e.getValue());
        }
        return out.append('}').toString();
    }

    private static void quote(StringBuilder out, String text) {
        out.append('"');
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) out.append(String.format("\\u%04x", (int) c)); else out.append(c);
                }
            }
        }
        out.append('"');
    }

    public static void main(String[] args) throws Exception {
        Map<String, byte[]> headers = new HashMap<>();
        for (String line : Files.readAllLines(Path.of(args[1]), StandardCharsets.UTF_8)) {
            int tab = line.indexOf('\t');
            headers.put(line.substring(0, tab), line.substring(tab + 1).getBytes(StandardCharsets.UTF_8));
        }
        boolean ok = verify(fundingKey(args[0]), headers, Files.readAllBytes(Path.of(args[2])));
        System.out.println(ok ? "verified" : "refused");
        System.exit(ok ? 0 : 1);
    }
}
