package io.kafki.compat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * A line-driven shell over Kafka's Java client, for the transaction tests
 * of brokerd/compat (txn_java_test.go). The test writes one command a line
 * on stdin; each command answers exactly one line on stdout, "ok ..." or
 * "err " followed by the exception chain (class names and messages), so
 * the test can drive two producers of one transactional id in one JVM and
 * see which call failed with what. consume also prints one "rec" line per
 * record before its answer.
 *
 * <pre>
 * producer NAME TXID [KEY=VALUE...]  a KafkaProducer with transactional.id TXID
 * init NAME                          initTransactions
 * begin NAME | commit NAME | abort NAME | close NAME
 * send NAME TOPIC PARTITION PREFIX COUNT
 *                                    COUNT records, key PREFIX, values PREFIX-0...,
 *                                    to TOPIC's PARTITION, waiting for every ack
 * consume ISOLATION TOPIC            every partition from the beginning to its end
 *                                    offset as this isolation level sees it (the
 *                                    last stable offset for read_committed):
 *                                    "rec PARTITION OFFSET KEY VALUE" lines
 * </pre>
 */
public final class TxnShell {
    private static final Duration CONSUME_TIMEOUT = Duration.ofSeconds(45);

    private final String bootstrap;
    private final Map<String, KafkaProducer<String, String>> producers = new HashMap<>();

    private TxnShell(String bootstrap) {
        this.bootstrap = bootstrap;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: TxnShell BOOTSTRAP");
            System.exit(2);
        }
        TxnShell sh = new TxnShell(args[0]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            line = line.trim();
            if (line.isEmpty()) {
                continue;
            }
            String answer;
            try {
                answer = "ok " + sh.run(line.split(" +"));
            } catch (Throwable e) {
                answer = "err " + chain(e);
            }
            System.out.println(answer);
            System.out.flush();
        }
        for (KafkaProducer<String, String> p : sh.producers.values()) {
            p.close(Duration.ofSeconds(5));
        }
    }

    /** chain is every exception of e's cause chain, "Class: message" joined by " <- ". */
    private static String chain(Throwable e) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = e; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (b.length() > 0) {
                b.append(" <- ");
            }
            b.append(c.getClass().getName()).append(": ").append(String.valueOf(c.getMessage()).replace('\n', ' '));
        }
        return b.toString();
    }

    private KafkaProducer<String, String> producer(String name) {
        KafkaProducer<String, String> p = producers.get(name);
        if (p == null) {
            throw new IllegalArgumentException("no producer " + name);
        }
        return p;
    }

    private String run(String[] a) throws Exception {
        switch (a[0]) {
            case "producer": {
                Properties props = new Properties();
                props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
                props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, a[2]);
                props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
                props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
                // Small batches: a transaction of a few records still spans
                // several produce requests.
                props.put(ProducerConfig.BATCH_SIZE_CONFIG, "256");
                props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
                for (int i = 3; i < a.length; i++) {
                    String[] kv = a[i].split("=", 2);
                    props.put(kv[0], kv[1]);
                }
                producers.put(a[1], new KafkaProducer<>(props));
                return "producer " + a[1];
            }
            case "init":
                producer(a[1]).initTransactions();
                return "init " + a[1];
            case "begin":
                producer(a[1]).beginTransaction();
                return "begin " + a[1];
            case "commit":
                producer(a[1]).commitTransaction();
                return "commit " + a[1];
            case "abort":
                producer(a[1]).abortTransaction();
                return "abort " + a[1];
            case "close":
                producers.remove(a[1]).close(Duration.ofSeconds(5));
                return "close " + a[1];
            case "send": {
                KafkaProducer<String, String> p = producer(a[1]);
                String topic = a[2];
                int partition = Integer.parseInt(a[3]);
                String prefix = a[4];
                int count = Integer.parseInt(a[5]);
                List<Future<RecordMetadata>> acks = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    acks.add(p.send(new ProducerRecord<>(topic, partition, prefix, prefix + "-" + i)));
                }
                p.flush();
                for (Future<RecordMetadata> f : acks) {
                    try {
                        f.get();
                    } catch (ExecutionException e) {
                        throw (Exception) e.getCause();
                    }
                }
                return "sent " + count;
            }
            case "consume":
                return consume(a[1], a[2]);
            default:
                throw new IllegalArgumentException("unknown command " + a[0]);
        }
    }

    private String consume(String isolation, String topic) {
        Properties props = new Properties();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(props)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30))) {
                tps.add(new TopicPartition(topic, pi.partition()));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            // endOffsets answers with the consumer's isolation level: the
            // last stable offset under read_committed.
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + CONSUME_TIMEOUT.toNanos();
            int n = 0;
            while (true) {
                boolean done = true;
                for (TopicPartition tp : tps) {
                    if (c.position(tp) < end.get(tp)) {
                        done = false;
                    }
                }
                if (done) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("did not reach the end offsets " + end + " within " + CONSUME_TIMEOUT);
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    System.out.println("rec " + r.partition() + " " + r.offset() + " " + r.key() + " " + r.value());
                    n++;
                }
            }
            return "consumed " + n + " end " + end.values();
        }
    }
}
