// Loupe's OpenSearch data model run on Lucene itself (Debian's liblucene8-java): each chunk's
// lexical terms in a whitespace-analysed TextField scored by BM25 (Loupe's k1 0.9, b 0.6), its
// latents as FeatureField features, and the clauses OpenSearch builds from Loupe's queries: a
// boosted TermQuery per lexical term (OpenSearch's term query) and, per latent, the linear
// FeatureField query that neural_sparse with raw query_tokens becomes on a rank_features field.
//
//   java -cp lucene-core.jar:lucene-analyzers-common.jar:. LoupeLucene docs.tsv queries.tsv
//
// docs.tsv: id \t terms (space-separated) \t latents ("id:weight" space-separated)
// queries.tsv: lexical|latent \t k \t "term:weight" space-separated
// Output: one line per hit: query number \t doc id \t score
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import org.apache.lucene.analysis.core.WhitespaceAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.FeatureField;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.ByteBuffersDirectory;

public class LoupeLucene {
  public static void main(String[] args) throws Exception {
    BM25Similarity bm25 = new BM25Similarity(0.9f, 0.6f);
    ByteBuffersDirectory dir = new ByteBuffersDirectory();
    IndexWriterConfig config = new IndexWriterConfig(new WhitespaceAnalyzer());
    config.setSimilarity(bm25);
    try (IndexWriter writer = new IndexWriter(dir, config)) {
      for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
        if (line.isEmpty()) continue;
        String[] parts = line.split("\t", -1);
        Document doc = new Document();
        doc.add(new StringField("id", parts[0], Field.Store.YES));
        doc.add(new TextField("terms", parts[1], Field.Store.NO));
        if (!parts[2].isEmpty()) {
          for (String pair : parts[2].split(" ")) {
            int colon = pair.lastIndexOf(':');
            doc.add(new FeatureField("latents", pair.substring(0, colon), Float.parseFloat(pair.substring(colon + 1))));
          }
        }
        writer.addDocument(doc);
      }
    }
    IndexSearcher searcher = new IndexSearcher(DirectoryReader.open(dir));
    searcher.setSimilarity(bm25);
    List<String> queries = Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8);
    StringBuilder out = new StringBuilder();
    for (int q = 0; q < queries.size(); q++) {
      String[] parts = queries.get(q).split("\t", -1);
      int k = Integer.parseInt(parts[1]);
      BooleanQuery.Builder builder = new BooleanQuery.Builder();
      for (String pair : parts[2].split(" ")) {
        int colon = pair.lastIndexOf(':');
        String name = pair.substring(0, colon);
        float weight = Float.parseFloat(pair.substring(colon + 1));
        if (parts[0].equals("latent")) builder.add(FeatureField.newLinearQuery("latents", name, weight), BooleanClause.Occur.SHOULD);
        else builder.add(new BoostQuery(new TermQuery(new Term("terms", name)), weight), BooleanClause.Occur.SHOULD);
      }
      TopDocs top = searcher.search(builder.build(), k);
      for (ScoreDoc hit : top.scoreDocs) {
        out.append(q).append('\t').append(searcher.doc(hit.doc).get("id")).append('\t').append(hit.score).append('\n');
      }
    }
    System.out.print(out);
  }
}
