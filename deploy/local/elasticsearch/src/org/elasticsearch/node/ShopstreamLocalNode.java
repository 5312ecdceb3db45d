/*
 * Part of the shopstream local real-server harness (deploy/local), not product code.
 *
 * Runs an Elasticsearch 8 node in this JVM from the Maven Central jars:
 *   java -cp 'classes:jars/*' org.elasticsearch.node.ShopstreamLocalNode HOME
 * HOME/config/elasticsearch.yml and HOME/config/log4j2.properties hold the
 * settings and logging (deploy/local/servers/elasticsearch.sh writes them).
 *
 * The distribution's launcher (server-cli and its stdin ServerArgs protocol,
 * module layers, entitlements) is skipped: the node is built like the test
 * framework's MockNode, with the plugins as class-path classes: Netty4Plugin
 * (HTTP and transport) and RootInfoPlugin (GET /, whose module, rest-root, is
 * not published to Maven Central). SIGTERM closes the node cleanly.
 */
package org.elasticsearch.node;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;
import org.elasticsearch.plugins.ShopstreamClasspathPluginsService;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import shopstream.local.es.RootInfoPlugin;

public final class ShopstreamLocalNode {
    private ShopstreamLocalNode() {}

    static final class ClasspathPlugins extends NodeServiceProvider {
        @Override
        PluginsService newPluginService(Environment env, PluginsLoader loader) {
            return new ShopstreamClasspathPluginsService(env.settings(), env.configDir(),
                List.of(Netty4Plugin.class, RootInfoPlugin.class));
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: ShopstreamLocalNode ES_HOME");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        Settings input = Settings.builder().put("path.home", home.toString()).build();

        LogConfigurator.configureESLogging();
        Environment env = InternalSettingsPreparer.prepareEnvironment(input, Map.of(), home.resolve("config"),
            () -> "shopstream-local");
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(env.settings()));
        LogConfigurator.setClusterName(env.settings().get("cluster.name", "elasticsearch"));
        LogConfigurator.configure(env, true);

        Node node = new Node(NodeConstruction.prepareConstruction(env, ShopstreamClasspathPluginsService.emptyLoader(),
            new ClasspathPlugins(), true));

        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "shopstream-local-shutdown"));

        node.start();
        closed.await();
    }
}
