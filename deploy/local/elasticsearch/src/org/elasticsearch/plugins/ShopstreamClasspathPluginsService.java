/*
 * Part of the shopstream local real-server harness (deploy/local), not product code.
 *
 * A PluginsService whose plugins are classes on the class path, like the
 * MockPluginsService of Elasticsearch's test framework. It lives in
 * org.elasticsearch.plugins because it needs package-private members
 * (PluginsLoader's constructor, LoadedPlugin, loadPlugin, loadExtensions);
 * that works because the launcher runs everything on the class path.
 */
package org.elasticsearch.plugins;

import org.elasticsearch.Build;
import org.elasticsearch.common.settings.Settings;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

public class ShopstreamClasspathPluginsService extends PluginsService {
    private final List<LoadedPlugin> classpathPlugins;

    public ShopstreamClasspathPluginsService(Settings settings, Path configPath, List<Class<? extends Plugin>> classes) {
        super(settings, configPath, emptyLoader());
        List<LoadedPlugin> loaded = new ArrayList<>();
        for (Class<? extends Plugin> c : classes) {
            Plugin plugin = loadPlugin(c, settings, configPath);
            PluginDescriptor descriptor = new PluginDescriptor(
                c.getName(), "classpath plugin (deploy/local)", "NA", Build.current().version(),
                Integer.toString(Runtime.version().feature()), c.getName(), null, List.of(),
                false, false, false, false);
            loaded.add(new LoadedPlugin(descriptor, plugin, c.getClassLoader()));
        }
        classpathPlugins = List.copyOf(loaded);
        loadExtensions(classpathPlugins);
    }

    /** A loader with no modules and no plugins: nothing is read from disk. */
    public static PluginsLoader emptyLoader() {
        return new PluginsLoader(Set.of(), Set.of(), Map.of());
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }
}
